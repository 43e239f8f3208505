"""`comfybot demo` from a pipe: everything local, the result saved, exit 0 when runs are done.
At a terminal, Ctrl-C at the prompt ends it cleanly, its database server with it."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from adapters.mongo.folder_state import pid_alive, read_record, server_holding

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_a_workflow_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMFYDEPLOY_", "MONGODB_"))}
    env.update({"DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"})
    lines = "/workflows\n/help txt2img\n/txt2img a red fox, watercolor seed=7 width=96 height=64\n"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        input=lines,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "/txt2img — " in out
    assert "steps — whole number, 1–50, default 20" in out
    assert "⚙️ Running" in out
    assert out.count("✅ Done") == 1
    assert re.search(r"💰 \d+\.\d\d credits · \d+\.\d\d left", out)  # paid from credits
    saved = [line.split("image: ", 1)[1] for line in out.splitlines() if "image: " in line]
    assert len(saved) == 1
    with Image.open(saved[0]) as image:
        assert image.size == (96, 64)
    assert Path(saved[0]).is_relative_to(tmp_path)


class Terminal:
    """`comfybot demo` on a pseudo-terminal, as a person at a shell runs it: its output read as
    it comes, keys typed into it."""

    def __init__(self, data_dir: Path) -> None:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("COMFYDEPLOY_", "MONGODB_"))
        }
        env.update(DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), TERM="xterm")
        self.seen = b""
        pid, self.fd = pty.fork()
        if pid == 0:  # the child: the demo, with the terminal as its controlling tty
            try:
                os.chdir(data_dir)
                os.execve(sys.executable, [sys.executable, "-m", "bot", "demo"], env)
            finally:
                os._exit(127)
        self.pid = pid

    def read_until(self, text: str, deadline: float) -> None:
        """Read what the demo prints until `text` has appeared (or it ends, or time is up)."""
        while text.encode() not in self.seen:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError(f"no {text!r} in:\n{self.text()}")
            chunk = self._read()
            if not chunk:
                raise EOFError(f"ended before {text!r}:\n{self.text()}")

    def _read(self) -> bytes:
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:  # EIO: the demo closed the terminal
            return b""
        self.seen += chunk
        return chunk

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def wait(self, deadline: float) -> int:
        """The exit code, once the demo ended (everything it printed read)."""
        while True:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError(f"still running:\n{self.text()}")
            if not self._read():
                break
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)

    def kill(self) -> None:
        with contextlib.suppress(ChildProcessError, ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)

    def text(self) -> str:
        return self.seen.decode(errors="replace")


@pytest.mark.parametrize(
    ("running", "key"),
    [(False, True), (True, True), (True, False)],
    ids=["idle", "run-under-way", "sigint-to-the-terminal-group"],
)
def test_ctrl_c_ends_the_demo_cleanly(tmp_path: Path, running: bool, key: bool) -> None:
    """Ctrl-C at an empty prompt, with a run under way or not: the demo says goodbye, exits 0
    without a traceback, and its database server and that server's keeper are gone. Where the
    line editor cannot take the key (libedit, start-up), the terminal sends SIGINT to its whole
    foreground group instead: the demo then ends with 130, as cleanly, its database too."""
    deadline = time.monotonic() + 120
    terminal = Terminal(tmp_path)
    try:
        terminal.read_until("> ", deadline)
        server = read_record(tmp_path / "demo" / "mongo")
        assert server is not None and pid_alive(server.server_pid), terminal.text()
        if running:
            terminal.type(b"/txt2img a slow fox width=32 height=32\r")
            terminal.read_until("⚙️ Running", deadline)
        if key:
            terminal.type(b"\x03")
        else:
            os.killpg(os.getpgid(terminal.pid), signal.SIGINT)
        code = terminal.wait(deadline)
    finally:
        terminal.kill()
    assert code == (0 if key else 130), terminal.text()
    assert "Traceback" not in terminal.text()
    assert ("Bye." in terminal.text()) is key
    assert not pid_alive(server.server_pid) and not pid_alive(server.keeper_pid)
    assert read_record(tmp_path / "demo" / "mongo") is None
    assert server_holding(tmp_path / "demo" / "mongo") is None
