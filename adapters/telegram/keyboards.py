"""Inline buttons for a content's actions. Callback data is the core's button grammar (action
and run id only), so a button keeps working after a restart."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core.actions import Action, ActionKind
from core.chat import buttons
from core.chat.text_render import TextRenderer

CALLBACK_PATTERN = buttons.PATTERN


ROW = 3
"""Buttons per row: labels stay readable on a phone."""


def keyboard(actions: Sequence[Action], words: TextRenderer) -> InlineKeyboardMarkup | None:
    if not actions:
        return None
    keys = [
        InlineKeyboardButton(words.button(a), callback_data=buttons.encode(a)) for a in actions
    ]
    return InlineKeyboardMarkup([keys[i : i + ROW] for i in range(0, len(keys), ROW)])


def cancel_keyboard(run_id: str, words: TextRenderer) -> InlineKeyboardMarkup | None:
    return keyboard([Action(ActionKind.CANCEL, run_id)], words)


def rerun_keyboard(run_id: str, words: TextRenderer) -> InlineKeyboardMarkup | None:
    return keyboard([Action(ActionKind.RERUN, run_id)], words)
