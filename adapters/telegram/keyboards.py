"""Inline buttons on run messages. Callback data holds only the action and the run id, so a
button keeps working after a restart."""

from __future__ import annotations

from typing import Literal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

Action = Literal["cancel", "rerun"]
CALLBACK_PATTERN = r"^(cancel|rerun):[A-Za-z0-9_-]{1,48}$"


def cancel_keyboard(run_id: str) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton("✖ Cancel", callback_data=f"cancel:{run_id}")
    return InlineKeyboardMarkup([[button]])


def rerun_keyboard(run_id: str) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton("🔁 Rerun", callback_data=f"rerun:{run_id}")
    return InlineKeyboardMarkup([[button]])


def parse_callback(data: str | None) -> tuple[Action, str] | None:
    """`cancel:<run id>` / `rerun:<run id>` -> (action, run id); None for anything else."""
    action, _, run_id = (data or "").partition(":")
    if not run_id or not run_id.replace("-", "").replace("_", "").isalnum():
        return None
    if action == "cancel":
        return "cancel", run_id
    if action == "rerun":
        return "rerun", run_id
    return None
