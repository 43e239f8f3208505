"""Run buttons (every `core.actions.ActionKind`: Cancel, Rerun, Reroll, Same seed, Upscale,
Vary, Recipe, Show) whose `custom_id` is the core's button grammar, `<action>:<run id>`, and
nothing else: a press on a message from before a restart is understood the same
(https://discord.com/developers/docs/components/reference#button, custom ids up to 100
characters, up to 25 buttons a message in rows of five). discord.py rebuilds such a button from
the pressed message through a `DynamicItem` registered at start-up
(discord.py `examples/views/dynamic_counter.py`) and hands the press to the client's button
handler. Labels are in the language of whoever the message is for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from adapters.discord.library import discord
from core.actions import Action, ActionKind
from core.chat import buttons
from core.chat.text_render import TextRenderer

Button = discord.ui.Button[discord.ui.View]
_STYLES = {ActionKind.CANCEL: discord.ButtonStyle.danger}


@runtime_checkable
class ButtonTarget(Protocol):
    """What handles a press: the bot's client."""

    async def on_run_button(
        self, interaction: discord.Interaction[Any], action: Action
    ) -> None: ...


class RunButton(discord.ui.DynamicItem[Button], template=buttons.PATTERN):
    def __init__(self, action: Action, label: str = "") -> None:
        style = _STYLES.get(action.kind, discord.ButtonStyle.secondary)
        button: Button = discord.ui.Button(
            label=label or action.kind.value, style=style, custom_id=buttons.encode(action)
        )
        super().__init__(button)
        self.action = action

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> RunButton:
        action = buttons.decode(match.group(0))
        if action is None:  # the template and the grammar are the same pattern
            raise ValueError(f"not a run button: {match.group(0)!r}")
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(action, label or "")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        target = interaction.client
        if isinstance(target, ButtonTarget):
            await target.on_run_button(interaction, self.action)


def action_view(actions: Sequence[Action], words: TextRenderer) -> discord.ui.View | None:
    """A view of run buttons (only DynamicItems: discord.py keeps no per-message state)."""
    if not actions:
        return None
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(RunButton(action, words.button(action)))
    return view
