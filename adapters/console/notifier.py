"""Shows runs in a terminal: one line per progress change, then the saved files, time and cost."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from adapters.console.terminal import PromptedOutput
from core.actions import ActionKind
from core.chat.text_render import TextRenderer
from core.journal import DeliveryJournal, send_once
from core.models import ProgressView, RunResult

PLATFORM = "console"
TYPED: dict[ActionKind, str] = {
    ActionKind.REROLL: "reroll",
    ActionKind.SAME_SEED: "rerun",
    ActionKind.RERUN: "rerun",
    ActionKind.RECIPE: "recipe",
}
"""A terminal has no buttons: the result lists the commands that do what they would (⬆️ Upscale
and 🔀 Vary as the workflow they feed, the run as its image: `TextRenderer.follow_up_line`)."""


class ConsoleNotifier:
    platform = PLATFORM

    def __init__(self, words: TextRenderer, out: TextIO | PromptedOutput | None = None) -> None:
        self._words = words
        self._out = out or sys.stdout
        self._last: dict[str, str] = {}
        self.result_shown = asyncio.Event()
        """Set after every result, so a waiting session re-checks what is still running."""

    async def show_progress(self, view: ProgressView) -> str | None:
        text = self._words.for_chat(view.run.chat).progress(view).replace("\n", " · ")
        if self._last.get(view.run.id) != text:
            self._last[view.run.id] = text
            self._print(text)
        return view.run.progress_message_id or view.run.id

    async def post_result(self, result: RunResult, journal: DeliveryJournal) -> RunResult | None:
        self._last.pop(result.run.id, None)
        words = self._words.for_chat(result.run.chat)
        lines = [words.result_summary(result.run, result.balance).replace("\n", " · ")]
        for file in result.files:
            where = file.path or words.text("output.not_downloaded", url=file.url)
            lines.append(f"  {words.text(f'output.{file.kind.value}')}: {where}")
        lines += [f"  {words.text('output.text')}: {text}" for text in result.texts]
        commands = (
            f"/{TYPED[a.kind]} {a.run_id}"
            if a.kind in TYPED
            else words.follow_up_line(result.run, a.kind)
            for a in result.actions
        )
        typed = [command for command in commands if command]
        if typed:
            lines.append("  ↳ " + " · ".join(dict.fromkeys(typed)))

        async def show() -> None:
            self._print("\n".join(lines))

        await send_once(journal, "result", show)
        self.result_shown.set()
        return None  # a terminal shows lines, not messages to edit

    async def end_status(self, ending: RunResult) -> None:
        """A terminal shows lines, not messages to edit: nothing to put right."""
        self._last.pop(ending.run.id, None)

    def _print(self, text: str) -> None:
        print(text, file=self._out, flush=True)
