"""Who uses a database folder: the owner lock, the server record, and WiredTiger's own lock.

Three facts, each from the most reliable source there is:

- *Is the process that started the folder's server alive?* It holds an exclusive `flock` on
  `comfybot-owner.lock` for as long as its server runs. The kernel drops the lock when the
  process dies, however it dies, so this cannot be fooled by a recycled pid.
- *Which server is that, on which port?* `comfybot-server.json`, written by the owner: owner
  pid, keeper pid, server pid, port, role (`bot` or `cli`) and status.
- *Does a server hold the folder?* WiredTiger takes a POSIX record lock on byte 0 of
  `WiredTiger.lock`; `F_GETLK` tells whether it is held and, on Linux, by which pid
  (https://man7.org/linux/man-pages/man2/fcntl.2.html).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import struct
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

OWNER_LOCK = "comfybot-owner.lock"
RECORD = "comfybot-server.json"
WT_LOCK = "WiredTiger.lock"

Role = Literal["bot", "cli"]
Status = Literal["starting", "running", "stopping"]

# struct flock on Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid.
_FLOCK = "hhqqi"
_FLOCK_SIZE = 32  # sizeof(struct flock) on 64-bit Linux, padding included


@dataclass(frozen=True)
class ServerRecord:
    owner_pid: int
    keeper_pid: int
    server_pid: int
    port: int
    role: Role
    status: Status


def read_record(folder: Path) -> ServerRecord | None:
    """The record in `folder`, or None when there is none or it cannot be read."""
    try:
        data = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        return ServerRecord(
            owner_pid=int(data["owner_pid"]),
            keeper_pid=int(data["keeper_pid"]),
            server_pid=int(data["server_pid"]),
            port=int(data["port"]),
            role="cli" if data["role"] == "cli" else "bot",
            status=data["status"] if data["status"] in ("starting", "stopping") else "running",
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_record(folder: Path, record: ServerRecord) -> None:
    """Replace the record atomically (a reader sees the old one or the new one)."""
    fd, temp = tempfile.mkstemp(prefix=".server-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(record), out)
        os.replace(temp, folder / RECORD)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def clear_record(folder: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (folder / RECORD).unlink()


class OwnerLock:
    """The exclusive right to run a server on a folder, held for as long as that server runs."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / OWNER_LOCK
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock


def owner_alive(folder: Path) -> bool:
    """Whether some process (this one included, through another descriptor) owns the folder."""
    path = folder / OWNER_LOCK
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock if we got it
    return False


def server_holding(folder: Path) -> int | None:
    """The pid holding WiredTiger's lock on `folder` (0 if held by an unknown pid), else None."""
    path = folder / WT_LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        if sys.platform.startswith("linux"):
            query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 1, 0)
            query += b"\0" * (_FLOCK_SIZE - len(query))
            reply = fcntl.fcntl(fd, fcntl.F_GETLK, query)
            kind, _, _, _, pid = struct.unpack(_FLOCK, reply[: struct.calcsize(_FLOCK)])
            return None if kind == fcntl.F_UNLCK else max(pid, 0)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
        except OSError:
            return 0
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, 0)
        return None
    finally:
        os.close(fd)


def pid_alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie, dead but not yet reaped, counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    return True


def send(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if pid > 0:
            os.kill(pid, sig)


def terminate_server(pid: int) -> None:
    """SIGTERM to the main thread of a server, where CPython runs its handler (see keeper.py)."""
    if pid <= 0:
        return
    tgkill = (
        getattr(ctypes.CDLL(None), "tgkill", None) if sys.platform.startswith("linux") else None
    )
    if tgkill is None or tgkill(pid, pid, signal.SIGTERM) != 0:
        send(pid, signal.SIGTERM)
