"""An embedded MongoDB-wire server (SecantusDB's `secantusd-py`) run as a child process.

SecantusDB is GPL-2.0, so it is only ever started as a separate program, never imported.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

EXECUTABLE = "secantusd-py"
MEMORY = ":memory:"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
_POLL_S = 0.05
_PORT_TRIES = 3


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mongo_uri(port: int) -> str:
    return f"mongodb://127.0.0.1:{port}/?directConnection=true"


def check_folder_free(data_dir: Path) -> None:
    """Fail clearly when another live server holds the folder's WiredTiger lock.

    WiredTiger takes an fcntl lock on byte 0 of `WiredTiger.lock`; we probe it and let go at once.
    """
    lock_file = data_dir / "WiredTiger.lock"
    if not lock_file.exists():
        return
    fd = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
    except OSError as exc:
        raise EmbeddedMongoError(
            f"database folder {data_dir} is in use by another running server; "
            "stop it first or choose another folder"
        ) from exc
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, 0)
    finally:
        os.close(fd)


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


class ServerProcess:
    """One running `secantusd-py`; keeps its last stderr lines for error messages."""

    def __init__(self, storage: str, port: int) -> None:
        self.port = port
        self.storage = storage
        self._lines: collections.deque[str] = collections.deque(maxlen=30)
        self.proc = subprocess.Popen(
            [
                find_executable(),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--storage-path",
                storage,
                "--log-level",
                "WARNING",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._lines.append(line.rstrip())

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

    def terminate_sync(self, timeout: float = STOP_TIMEOUT_S) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=1.0)
        if self.proc.stderr is not None and not self._reader.is_alive():
            self.proc.stderr.close()


class EmbeddedMongo:
    """Start/stop a local server on `data_dir` (or `:memory:`); `port=None` picks a free one."""

    def __init__(self, data_dir: Path | str, port: int | None = None) -> None:
        self.storage = str(data_dir)
        self.port = port
        self._server: ServerProcess | None = None

    @property
    def uri(self) -> str:
        if self._server is None:
            raise EmbeddedMongoError("embedded server not started")
        return mongo_uri(self._server.port)

    def _prepare(self) -> None:
        if self._server is not None:
            raise EmbeddedMongoError("embedded server already started")
        if self.storage != MEMORY:
            folder = Path(self.storage)
            folder.mkdir(parents=True, exist_ok=True)
            check_folder_free(folder)

    def _spawn(self) -> ServerProcess:
        if self.port is None:
            return ServerProcess(self.storage, free_port())
        if port_open(self.port):
            # Otherwise the readiness check would mistake that program for our server.
            raise EmbeddedMongoError(f"port {self.port} is already in use by another program")
        return ServerProcess(self.storage, self.port)

    def _give_up(self, server: ServerProcess) -> EmbeddedMongoError:
        server.terminate_sync(timeout=2.0)
        return EmbeddedMongoError(
            f"{EXECUTABLE} did not open port {server.port} within {START_TIMEOUT_S:.0f} s:\n"
            + server.tail()
        )

    def _retry_port(self, server: ServerProcess, attempt: int) -> bool:
        """A freshly picked port can be taken before the child binds it: try another."""
        return self.port is None and attempt < _PORT_TRIES - 1 and server.address_in_use()

    def _wait_ready(self, server: ServerProcess) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            server.check_alive()
            if port_open(server.port):
                return
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.proc.wait(_POLL_S)  # doubles as the poll interval; returns early on exit
            if time.monotonic() > deadline:
                raise self._give_up(server)

    def start_sync(self) -> str:
        """Blocking start, for synchronous callers such as a pytest session fixture."""
        self._prepare()
        for attempt in range(_PORT_TRIES):
            server = self._spawn()
            try:
                self._wait_ready(server)
            except EmbeddedMongoError:
                if self._retry_port(server, attempt):
                    continue
                raise
            self._server = server
            break
        return self.uri

    async def start(self) -> str:
        """Start the server and wait until it accepts connections; returns its URI."""
        return await asyncio.to_thread(self.start_sync)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await asyncio.to_thread(server.terminate_sync)

    def stop_sync(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.terminate_sync()
