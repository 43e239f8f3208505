"""What a user can do about a run from a message: each becomes a button where the platform has
them. A button carries only the action and the run id (see core/chat/buttons.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActionKind(StrEnum):
    CANCEL = "cancel"
    RERUN = "rerun"


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    run_id: str
