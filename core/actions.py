"""What a user can do about a run from a message: each becomes a button where the platform has
them. A button carries only the action and the run id (see core/chat/buttons.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActionKind(StrEnum):
    CANCEL = "cancel"
    RERUN = "rerun"
    """The same inputs again (a workflow without a seed)."""
    REROLL = "reroll"
    """The same inputs with a new seed."""
    SAME_SEED = "same"
    """The exact same run again, seed included."""
    UPSCALE = "upscale"
    """The result's image into the workflow's upscaler (`upscale_with`)."""
    VARY = "vary"
    """The result's image into the workflow's variation maker (`vary_with`)."""
    RECIPE = "recipe"
    """Everything the run was made with, ready to copy as a command."""
    SHOW = "show"
    """Post a finished run's result again."""


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    run_id: str
