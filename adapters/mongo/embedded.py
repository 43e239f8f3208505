"""An embedded MongoDB-wire server (SecantusDB's `secantusd-py`) run as a child process.

SecantusDB is GPL-2.0, so it is only ever started as a separate program, never imported.

One folder, one server, one owner. The process that starts a server on a folder owns it (see
`folder_state`) and the server lives exactly as long as that process (see `keeper.py`). A
later start on the folder:

- from a *bot* (`shared=False`) fails while another bot owns the folder, waits while a CLI
  command does, and stops a server left by an owner that is gone (a server still shutting down
  is waited for; one that overstays is killed);
- from a *CLI command* (`shared=True`) uses the running bot's server instead of starting one,
  and otherwise starts its own, which at the end it leaves to shut itself down (cleanly, by its
  keeper) rather than waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import time
from pathlib import Path

from adapters.mongo.folder_state import (
    OwnerLock,
    Role,
    ServerRecord,
    Status,
    clear_record,
    read_record,
    write_record,
)
from adapters.mongo.leftover import stop_leftover_server
from adapters.mongo.server_process import (
    EXECUTABLE,
    EmbeddedMongoError,
    ServerProcess,
    find_executable,
)

__all__ = [
    "EXECUTABLE",
    "MEMORY",
    "EmbeddedMongo",
    "EmbeddedMongoError",
    "find_executable",
    "mongo_uri",
]

log = logging.getLogger(__name__)

MEMORY = ":memory:"
START_TIMEOUT_S = 20.0
_POLL_S = 0.05
_PORT_TRIES = 3


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mongo_uri(port: int) -> str:
    """The URI of an embedded server.

    `retryWrites=false`: SecantusDB keeps every retryable write's reply for 30 minutes (up to
    10,000) and scans them all on each write, so with retryable writes on, a conditional update
    falls from ~750/s to ~45/s after 15,000 writes (bench/RESULTS.md). Our writes do not need
    the retry: the server is on loopback in a process the bot watches, and every write the
    stores make is conditional or idempotent, so a failed one surfaces as an error instead of
    being applied twice. A real MongoDB URI keeps PyMongo's default (retryable writes on)."""
    return f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false"


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


class EmbeddedMongo:
    """Start/stop a local server on `data_dir` (or `:memory:`); `port=None` picks a free one.

    `shared=True` is for short-lived commands: use a running bot's server when there is one,
    and do not wait at `stop()` for a server of our own to finish shutting down."""

    def __init__(
        self, data_dir: Path | str, port: int | None = None, *, shared: bool = False
    ) -> None:
        self.storage = str(data_dir)
        self.port = port
        self.shared = shared
        self._server: ServerProcess | None = None
        self._attached: ServerRecord | None = None
        self._owner: OwnerLock | None = None

    @property
    def role(self) -> Role:
        return "cli" if self.shared else "bot"

    @property
    def folder(self) -> Path | None:
        return None if self.storage == MEMORY else Path(self.storage)

    @property
    def uri(self) -> str:
        if self._server is not None:
            return mongo_uri(self._server.port)
        if self._attached is not None:
            return mongo_uri(self._attached.port)
        raise EmbeddedMongoError("embedded server not started")

    @property
    def server_pid(self) -> int | None:
        """The pid of the server this object started (None if none, or if it uses another's)."""
        return self._server.server_pid if self._server is not None else None

    @property
    def keeper_pid(self) -> int | None:
        return self._server.keeper_pid if self._server is not None else None

    # -- start ---------------------------------------------------------------------------

    def start_sync(self) -> str:
        """Blocking start, for synchronous callers such as a pytest session fixture."""
        if self._server is not None or self._attached is not None:
            raise EmbeddedMongoError("embedded server already started")
        folder = self.folder
        if folder is None:
            self._server = self._spawn_ready()
            return self.uri
        folder.mkdir(parents=True, exist_ok=True)
        owner = OwnerLock(folder)
        record = self._become_owner(folder, owner)
        if record is not None:
            self._attached = record
            log.info("using the database server of the running bot (pid %d)", record.owner_pid)
            return self.uri
        self._owner = owner
        try:
            stop_leftover_server(folder)
            self._server = self._spawn_ready(folder)
        except BaseException:
            owner.release()
            self._owner = None
            raise
        return self.uri

    async def start(self) -> str:
        """Start the server (or find the running bot's) and wait until it accepts connections."""
        return await asyncio.to_thread(self.start_sync)

    def _become_owner(self, folder: Path, owner: OwnerLock) -> ServerRecord | None:
        """Take the folder's owner lock; or, in shared mode, return a live bot's server record.

        Waits (bounded) while the owner is a CLI command, or a server is starting or stopping."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while not owner.try_acquire():
            record = read_record(folder)
            if record is not None and record.role == "bot" and record.status == "running":
                if self.shared and port_open(record.port):
                    return record
                if not self.shared:
                    raise EmbeddedMongoError(
                        f"database folder {folder} is in use by the running bot "
                        f"(pid {record.owner_pid}); stop it first or choose another folder"
                    )
            if time.monotonic() > deadline:
                who = f" (pid {record.owner_pid})" if record is not None else ""
                raise EmbeddedMongoError(
                    f"database folder {folder} is held by another process{who} "
                    f"for more than {START_TIMEOUT_S:.0f} s"
                )
            time.sleep(_POLL_S)
        return None

    def _spawn(self) -> ServerProcess:
        if self.port is None:
            return ServerProcess(self.storage, free_port())
        if port_open(self.port):
            # Otherwise the readiness check would mistake that program for our server.
            raise EmbeddedMongoError(f"port {self.port} is already in use by another program")
        return ServerProcess(self.storage, self.port)

    def _spawn_ready(self, folder: Path | None = None) -> ServerProcess:
        for attempt in range(_PORT_TRIES):
            server = self._spawn()
            if folder is not None:
                write_record(folder, self._record(server, "starting"))
            try:
                _wait_ready(server)
            except EmbeddedMongoError:
                # A freshly picked port can be taken before the child binds it: try another.
                if self.port is None and attempt < _PORT_TRIES - 1 and server.address_in_use():
                    continue
                if folder is not None:
                    clear_record(folder)
                raise
            if folder is not None:
                write_record(folder, self._record(server, "running"))
            return server
        raise AssertionError("unreachable")

    def _record(self, server: ServerProcess, status: Status) -> ServerRecord:
        return ServerRecord(
            owner_pid=os.getpid(),
            keeper_pid=server.keeper_pid,
            server_pid=server.server_pid,
            port=server.port,
            role=self.role,
            status=status,
        )

    # -- stop ----------------------------------------------------------------------------

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_sync)

    def stop_sync(self) -> None:
        """Stop our server; a shared (CLI) instance leaves it to shut down by itself.

        Using a running bot's server, there is nothing to stop."""
        server, self._server = self._server, None
        self._attached = None
        owner, self._owner = self._owner, None
        if server is None:
            return
        folder = self.folder
        if self.shared:
            if folder is not None:
                write_record(folder, self._record(server, "stopping"))
            server.leave()
        else:
            server.terminate_sync()
            if folder is not None:
                clear_record(folder)
        if owner is not None:
            owner.release()


def _wait_ready(server: ServerProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        server.check_alive()
        if port_open(server.port):
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.proc.wait(_POLL_S)  # doubles as the poll interval; returns early on exit
        if time.monotonic() > deadline:
            server.terminate_sync(timeout=2.0)
            raise EmbeddedMongoError(
                f"{EXECUTABLE} did not open port {server.port} within {START_TIMEOUT_S:.0f} s:\n"
                + server.tail()
            )
