"""Lines typed at the console, read off the event loop, with line editing and history where the
standard library's `readline` is GNU readline (https://docs.python.org/3/library/readline.html).

Ctrl-C works as in a shell: with text on the line it clears the line; at an empty prompt it
ends the session. The terminal's interrupt character is switched off while reading
(https://docs.python.org/3/library/termios.html) and Ctrl-C is bound to a readline macro that
ends the line with a visible `^C` mark instead, so the reader sees which case it was; the
terminal is restored when reading ends. Where that is not possible (libedit, no tty), Ctrl-C
stays a signal and stops the program, which shuts down cleanly all the same.

Output printed while a prompt is waiting (progress, results) is written above it: the prompt
line is cleared, the text printed, and the prompt with what was typed so far drawn again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TextIO

PROMPT = "> "
INTERRUPT_MARK = "^C"
_EOF = object()
_EXIT = object()


def gnu_readline() -> ModuleType | None:
    """The readline module when it is GNU readline (libedit binds keys another way)."""
    try:
        import readline
    except ImportError:
        return None
    return None if "libedit" in (readline.__doc__ or "") else readline


class PromptedOutput:
    """A text stream that keeps an interactive prompt below whatever is printed."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.prompting = False
        self._line_start = True

    def write(self, text: str) -> int:
        with self._lock:
            if self.prompting and self._line_start and text:
                self._stream.write("\r\x1b[K")
            self._stream.write(text)
            if text:
                self._line_start = text.endswith("\n")
            if self.prompting and self._line_start and text:
                self._stream.write(PROMPT + _typed_so_far())
            self._stream.flush()
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()


def _typed_so_far() -> str:
    readline = gnu_readline()
    return readline.get_line_buffer() if readline is not None else ""


@dataclass
class LineReader:
    """Reads lines on a daemon thread (it may stay blocked on a terminal forever without holding
    up the shutdown) and hands them to the event loop."""

    stdin: TextIO
    out: PromptedOutput | None = None
    interactive: bool = False
    interrupted: bool = False
    """The session was ended with Ctrl-C at an empty prompt."""
    _queue: asyncio.Queue[object] = field(default_factory=asyncio.Queue)

    async def lines(self) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        restore = self._take_terminal() if self.interactive else None
        thread = threading.Thread(target=self._read, args=(loop,), daemon=True)
        thread.start()
        try:
            while True:
                item = await self._queue.get()
                if item is _EOF:
                    return
                if item is _EXIT:
                    self.interrupted = True
                    return
                assert isinstance(item, str)
                yield item
        finally:
            if restore is not None:
                restore()

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            item = self._read_one()
            loop.call_soon_threadsafe(self._queue.put_nowait, item)
            if item is _EOF or item is _EXIT:
                return

    def _read_one(self) -> object:
        if not self.interactive:
            line = self.stdin.readline()
            return line if line else _EOF
        if self.out is not None:
            self.out.prompting = True
        try:
            line = input(PROMPT)
        except (EOFError, KeyboardInterrupt):
            return _EOF
        finally:
            if self.out is not None:
                self.out.prompting = False
        if not line.endswith(INTERRUPT_MARK):
            return line
        _forget_last_line()
        return _EXIT if line[: -len(INTERRUPT_MARK)].strip() == "" else ""

    def _take_terminal(self) -> Callable[[], None] | None:
        """Ctrl-C as a key of the line editor; returns how to give the terminal back."""
        readline = gnu_readline()
        if readline is None:
            return None
        try:
            import termios

            fd = self.stdin.fileno()
            before = termios.tcgetattr(fd)
            during = termios.tcgetattr(fd)
            during[6][termios.VINTR] = 0  # _POSIX_VDISABLE on Linux and the BSDs
            termios.tcsetattr(fd, termios.TCSANOW, during)
        except (ImportError, OSError, ValueError):
            return None
        readline.parse_and_bind(rf'"\C-c": "\C-e{INTERRUPT_MARK}\C-m"')

        def restore() -> None:
            with contextlib.suppress(OSError):
                termios.tcsetattr(fd, termios.TCSANOW, before)

        return restore


def _forget_last_line() -> None:
    """A line ended with Ctrl-C is no history."""
    readline = gnu_readline()
    if readline is None:
        return
    length = readline.get_current_history_length()
    if length:
        readline.remove_history_item(length - 1)
