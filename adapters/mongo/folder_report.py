"""One line for `comfybot doctor`: can the embedded server use its folder, who holds it."""

from __future__ import annotations

from pathlib import Path

from adapters.mongo.folder_state import owner_alive, read_record, server_holding


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
