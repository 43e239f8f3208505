"""Bootstrap for a fresh clone, standard library only.

`python3 -m bot.dev demo` and `python3 -m bot.dev test` create `.venv/`, install the project
(again only when pyproject.toml changed) and then run the demo or the whole check suite.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".comfybot-installed"

CHECKS: list[list[str]] = [
    ["ruff", "check", "."],
    ["ruff", "format", "--check", "."],
    ["mypy", "--strict", "bot", "core", "adapters"],
    # Two workers for everything but the soak, then the soak alone: it times faults across
    # processes and is the one test that wants the whole machine.
    ["pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--ignore", "tests/soak"],
    ["pytest", "-q", "-p", "no:cacheprovider", "tests/soak"],
]


def ensure_venv() -> None:
    """Create the virtualenv and install the project with its dev tools, if not already current."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not (BIN / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def run_checks() -> int:
    for check in CHECKS:
        print("$", " ".join(check), flush=True)
        code = subprocess.run([str(BIN / check[0]), *check[1:]], cwd=ROOT).returncode
        if code != 0:
            return code
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "setup"}:
        print("usage: python3 -m bot.dev demo|test|setup [args...]", file=sys.stderr)
        return 2
    ensure_venv()
    if argv[0] == "test":
        return run_checks()
    if argv[0] == "demo":
        return subprocess.run([str(BIN / "comfybot"), "demo", *argv[1:]], cwd=ROOT).returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
