"""Two processes share a chat: one delivers the result while the other still has a progress
edit under way. The status message must end in its final state, never "Running" with a Cancel
button."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.telegram.notifier import TelegramNotifier
from adapters.telegram.wording import SYNTAX
from core.chat.text_render import TextRenderer
from core.models import ChatRef, EventSource, ProgressView, RunEvent, RunStatus
from tests.e2e.harness import world
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_kit import bot_on

CHAT = ChatRef(platform="telegram", chat_id="5", user_id="7", message_id="1")


class HeldEdits(TelegramNotifier):
    """Another process's notifier whose next progress edit waits for `gate`."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def show_progress(self, view: ProgressView) -> str | None:
        self.waiting.set()
        await self.gate.wait()
        return await super().show_progress(view)


async def test_a_late_progress_edit_from_another_process_never_sticks(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with FakeTelegram() as fake, bot_on(fake) as tg_bot, world(mongo_uri, tmp_path) as w:
        words = TextRenderer(SYNTAX)
        first = TelegramNotifier(tg_bot, words)
        other = HeldEdits(tg_bot, words)
        first.ready = other.ready = True
        async with w.engine(notifiers=[first]) as a, w.engine(notifiers=[other], http=False) as b:
            await a.front.say("/txt2img two processes width=32 height=32", CHAT)
            await a.settle()
            run = await a.last_run()
            assert run.backend_run_id is not None and run.progress_message_id is not None
            status_id = int(run.progress_message_id)

            late = RunEvent(
                backend_run_id=run.backend_run_id,
                status=RunStatus.RUNNING,
                source=EventSource.WEBHOOK,
                progress=0.95,
            )
            assert await b.container.tracker.apply(run.id, late)  # its webhook reached b
            await other.waiting.wait()  # b's edit is on its way, slowly

            await w.sim.finish(run.backend_run_id)  # a hears of the end and delivers
            await a.settle()
            assert fake.sent("sendPhoto", 5)

            other.gate.set()  # b's "Running 95%" lands after the result
            await b.settle()
        history = fake.history(5, status_id)
        assert any("95%" in (v.text or "") for v in history.versions)  # it did land
        assert "✅ Done" in (history.final.text or "")
        assert history.final.buttons == []
