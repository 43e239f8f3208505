"""An update as a chat platform sent it, and what the update log says when it is claimed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


@dataclass(frozen=True)
class UpdateEntry:
    key: str
    """Unique per update and platform, e.g. `telegram:<bot id>:<update_id>`."""
    chat: str
    """What order is kept within: the chat (or the user, for updates without a chat)."""
    seq: int
    """The platform's order: Telegram's update_id grows with each update."""
    payload: Mapping[str, Any] = field(default_factory=dict)
    """The update as received, so another process can handle it if this one dies."""


class Arrival(Enum):
    NEW = "new"
    """Claimed: handle it (for the first time, or again after its handler died)."""
    DONE = "done"
    """Handled before: a repeat, to ignore."""
    BUSY = "busy"
    """Another process is handling it right now."""


@dataclass(frozen=True)
class UpdateClaim:
    arrival: Arrival
    until: datetime | None = None
    """For BUSY: when the other process's claim runs out unless renewed."""
