"""The console's line reader on a real terminal (a pseudo-terminal): line editing and history
with readline, Ctrl-C clearing a line with text and ending the session at an empty prompt."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.console.terminal import gnu_readline

pty = pytest.importorskip("pty")
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import asyncio, sys
from adapters.console.terminal import LineReader, PromptedOutput

async def main():
    tty = sys.stdin.isatty()
    reader = LineReader(sys.stdin, PromptedOutput(sys.stdout), interactive=tty)
    async for line in reader.lines():
        print(f"GOT[{line}]", flush=True)
    print("INTERRUPTED" if reader.interrupted else "EOF", flush=True)

asyncio.run(main())
"""


def drive(keys: list[bytes]) -> tuple[str, int]:
    """Type `keys` (one write each, letting the reader settle) and return what it printed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the reader on the terminal
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-c", SCRIPT])
    out = b""

    def pump(seconds: float) -> None:
        nonlocal out
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    return
                if not chunk:
                    return
                out += chunk

    pump(1.5)
    for key in keys:
        os.write(fd, key)
        pump(0.4)
    _, status = os.waitpid(pid, 0)
    pump(0.2)
    os.close(fd)
    return out.decode(errors="replace"), os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(gnu_readline() is None, reason="needs GNU readline")
def test_ctrl_c_clears_the_line_then_ends_the_session() -> None:
    keys = [b"abc\x1b[Dx\r", b"\x1b[A\r", b"half typed", b"\x03", b"\x03"]
    text, code = drive(keys)
    assert code == 0
    assert "GOT[abxc]" in text  # the cursor moved left before the x
    assert text.count("GOT[abxc]") == 2  # the arrow up brought it back from history
    assert "half typed^C" in text and "GOT[half typed" not in text
    assert text.rstrip().endswith("INTERRUPTED")
    assert "Traceback" not in text


def test_ctrl_d_ends_the_input() -> None:
    text, code = drive([b"hello\r", b"\x04"])
    assert code == 0 and "GOT[hello]" in text and text.rstrip().endswith("EOF")


def test_piped_input_is_read_line_by_line() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        input="one\ntwo\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
        check=True,
    )
    assert done.stdout == "GOT[one\n]\nGOT[two\n]\nEOF\n"
