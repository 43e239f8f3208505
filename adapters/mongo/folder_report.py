"""One-line answers for `comfybot doctor`: is DATA_DIR writable, and who holds the database."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from adapters.mongo.folder_state import owner_alive, read_record, server_holding


def data_dir_status(data_dir: Path) -> tuple[bool, str]:
    """(ok, detail): whether the bot can create and write files in `data_dir`."""
    existing = data_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return False, f"{data_dir} is not writable: {existing} is not a folder"
    if existing != data_dir:
        if not os.access(existing, os.W_OK | os.X_OK):
            return False, f"{data_dir} cannot be created: {existing} is not writable"
        return True, f"{data_dir} (will be created)"
    try:
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as error:
        return False, f"{data_dir} is not writable: {error.strerror or error}"
    return True, f"{data_dir} is writable"


def database_folder_status(folder: Path) -> tuple[bool, str]:
    """(ok, detail): whether the embedded server can use `folder`, and who holds it if anyone."""
    holder = server_holding(folder) if folder.is_dir() else None
    if holder is None:
        return True, f"embedded, data in {folder}"
    record = read_record(folder)
    ours = record is not None and holder in (0, record.server_pid)
    if record is not None and ours and owner_alive(folder):
        who = "bot" if record.role == "bot" else "command"
        return True, (
            f"embedded, served by the running {who} (pid {record.owner_pid}) on port "
            f"{record.port}; commands use it"
        )
    if record is not None and ours:
        return True, (
            f"embedded; the server (pid {record.server_pid}) of a stopped bot still holds "
            f"{folder}, the next start stops it"
        )
    pid = f" (pid {holder})" if holder else ""
    return False, (
        f"{folder} is held by another running database server{pid} that comfybot did not "
        "start: stop it or set DATA_DIR to another folder"
    )
