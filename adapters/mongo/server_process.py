"""One `secantusd-py` run under its keeper (`keeper.py`), seen from the process that owns it."""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from adapters.mongo.folder_state import pid_alive, send, terminate_server

EXECUTABLE = "secantusd-py"
KEEPER = Path(__file__).with_name("keeper.py")
STOP_GRACE_S = 10.0
"""How long the keeper lets the server close WiredTiger before it kills it."""
_POLL_S = 0.05

_lifelines: set[int] = set()
_lifelines_lock = threading.Lock()


def _close_lifelines_in_child() -> None:
    """A forked child (no exec) must not keep a server alive after its parent is gone."""
    for fd in list(_lifelines):
        with contextlib.suppress(OSError):
            os.close(fd)
    _lifelines.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_lifelines_in_child)


class EmbeddedMongoError(RuntimeError):
    """The embedded server could not be started (or its folder is in use)."""


def find_executable() -> str:
    """`secantusd-py` next to the running interpreter (a venv), else on PATH."""
    beside = Path(sys.executable).parent / EXECUTABLE
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(EXECUTABLE)
    if found is None:
        raise EmbeddedMongoError(
            f"{EXECUTABLE} not found next to {sys.executable} or on PATH; install SecantusDB"
        )
    return found


def server_command(storage: str, port: int) -> list[str]:
    return [
        find_executable(),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--storage-path",
        storage,
        "--log-level",
        "WARNING",
    ]


class ServerProcess:
    """A running server and its keeper; keeps the last stderr lines for error messages.

    The keeper holds the read end of a pipe whose write end (the *lifeline*) only this process
    has; closing it, or this process ending in any way, makes the keeper stop the server. The
    keeper runs in a session of its own, so a Ctrl-C in the bot's terminal reaches the bot
    alone, which then stops the database after its own shutdown has used it."""

    def __init__(self, storage: str, port: int) -> None:
        self.port = port
        self.storage = storage
        self._lines: collections.deque[str] = collections.deque(maxlen=30)
        command = server_command(storage, port)
        read_end, self._lifeline = os.pipe()
        with _lifelines_lock:
            _lifelines.add(self._lifeline)
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    str(KEEPER),
                    "--lifeline",
                    str(read_end),
                    "--wake-port",
                    str(port),
                    "--grace",
                    str(STOP_GRACE_S),
                    "--",
                    *command,
                ],
                pass_fds=(read_end,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                text=True,
                errors="replace",
            )
        except BaseException:
            self._close_lifeline()
            raise
        finally:
            os.close(read_end)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().split()
        self.proc.stdout.close()
        self.server_pid = int(first[1]) if first[:1] == ["server-pid"] else 0
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    @property
    def keeper_pid(self) -> int:
        return self.proc.pid

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._lines.append(line.rstrip())

    def _close_lifeline(self) -> None:
        with _lifelines_lock:
            if self._lifeline in _lifelines:
                _lifelines.discard(self._lifeline)
                os.close(self._lifeline)

    def tail(self) -> str:
        self._reader.join(timeout=1.0)
        return "\n".join(self._lines)

    def check_alive(self) -> None:
        code = self.proc.poll()
        if code is None:
            return
        self.terminate_sync()
        tail = self.tail()
        if "resource busy" in tail.lower():
            raise EmbeddedMongoError(
                f"database folder {self.storage} is in use by another server:\n{tail}"
            )
        raise EmbeddedMongoError(f"{EXECUTABLE} exited with code {code}:\n{tail}")

    def address_in_use(self) -> bool:
        return self.proc.poll() is not None and "address already in use" in self.tail().lower()

    def request_stop(self) -> None:
        """Ask the keeper to stop the server (one clean SIGTERM) and return at once."""
        self._close_lifeline()

    def leave(self) -> None:
        """Stop without waiting: the keeper finishes the server's clean shutdown on its own.

        A thread reaps the keeper if this process lives on, so no zombie is left behind."""
        self.request_stop()
        threading.Thread(target=self._reap, daemon=True, name="embedded-mongo-reaper").start()

    def _reap(self) -> None:
        self.proc.wait()
        self._close_stderr()

    def terminate_sync(self, timeout: float = STOP_GRACE_S + 5.0) -> None:
        """Stop the server and wait until it and its keeper are gone.

        The keeper normally outlives its server; if it was killed, the server is stopped here
        (SIGTERM to its main thread, SIGKILL once `timeout` has passed)."""
        deadline = time.monotonic() + timeout
        self.request_stop()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if pid_alive(self.server_pid):
            terminate_server(self.server_pid)
            while pid_alive(self.server_pid) and time.monotonic() < deadline:
                time.sleep(_POLL_S)
            if pid_alive(self.server_pid):
                send(self.server_pid, signal.SIGKILL)
        self._close_stderr()

    def _close_stderr(self) -> None:
        self._reader.join(timeout=1.0)
        if self.proc.stderr is not None and not self._reader.is_alive():
            self.proc.stderr.close()
