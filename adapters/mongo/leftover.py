"""A server left on a database folder by an owner that is gone: wait for it, or stop it."""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path

from adapters.mongo.folder_state import (
    clear_record,
    pid_alive,
    read_record,
    send,
    server_holding,
    terminate_server,
)
from adapters.mongo.server_process import STOP_GRACE_S, EmbeddedMongoError

log = logging.getLogger(__name__)

STALE_STOP_TIMEOUT_S = STOP_GRACE_S + 5.0
_POLL_S = 0.05


def stop_leftover_server(folder: Path) -> None:
    """Stop a server still holding `folder` after its owner is gone (we hold the owner lock).

    A server whose owner left it to shut down (status `stopping`) is only waited for; one from
    a dead bot gets SIGTERM (to its keeper if that lives, else to itself); one that has not
    released the folder after `STALE_STOP_TIMEOUT_S` is killed. A server comfybot did not
    start (no record, or another pid holds the lock) is never touched."""
    holder = server_holding(folder)
    record = read_record(folder)
    if holder is None:
        clear_record(folder)
        return
    if record is None or (holder and holder != record.server_pid):
        raise EmbeddedMongoError(
            f"database folder {folder} is in use by another running server"
            + (f" (pid {holder})" if holder else "")
            + "; stop it first or choose another folder"
        )
    if record.status != "stopping":
        log.warning(
            "stopping the database server (pid %d) left running by process %d",
            record.server_pid,
            record.owner_pid,
        )
        if pid_alive(record.keeper_pid):
            send(record.keeper_pid, signal.SIGTERM)
        else:
            terminate_server(record.server_pid)
    if not _wait_folder_released(folder, STALE_STOP_TIMEOUT_S):
        log.warning("database server (pid %d) did not stop: killing it", record.server_pid)
        send(record.server_pid, signal.SIGKILL)  # the lock holder: checked above
        if not _wait_folder_released(folder, 5.0):
            raise EmbeddedMongoError(
                f"database folder {folder} is still held by pid {holder} after SIGKILL"
            )
    clear_record(folder)


def _wait_folder_released(folder: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while server_holding(folder) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL_S)
    return True
