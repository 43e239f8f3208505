"""The button grammar every platform shares: a payload is `<action>:<run id>` and nothing more,
so a button keeps working after a restart (no state lives in memory), and it fits Telegram's
64-byte callback data and Discord's 100-character custom ids."""

from __future__ import annotations

import re

from core.actions import Action, ActionKind
from core.chat.operations import (
    CancelRun,
    FollowUp,
    FollowUpKind,
    Rerun,
    ShowRecipe,
    ShowRun,
    UserOperation,
)

RUN_ID = r"[A-Za-z0-9_-]{1,48}"
PATTERN = rf"^({'|'.join(kind.value for kind in ActionKind)}):({RUN_ID})$"
_PAYLOAD = re.compile(PATTERN)


def encode(action: Action) -> str:
    return f"{action.kind.value}:{action.run_id}"


def decode(payload: str | None) -> Action | None:
    """The action a payload stands for; None for anything that is not ours."""
    match = _PAYLOAD.match(payload or "")
    if match is None:
        return None
    return Action(ActionKind(match.group(1)), match.group(2))


def operation_for(action: Action) -> UserOperation:
    """What pressing the button asks for: the same operation as typing the command."""
    run_id = action.run_id
    match action.kind:
        case ActionKind.CANCEL:
            return CancelRun(run_id)
        case ActionKind.REROLL:
            return Rerun(run_id, new_seed=True)
        case ActionKind.UPSCALE:
            return FollowUp(run_id, FollowUpKind.UPSCALE)
        case ActionKind.VARY:
            return FollowUp(run_id, FollowUpKind.VARY)
        case ActionKind.RECIPE:
            return ShowRecipe(run_id)
        case ActionKind.SHOW:
            return ShowRun(run_id)
    return Rerun(run_id)  # RERUN and SAME_SEED: the exact same run
