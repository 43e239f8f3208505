"""The Telegram adapter on the whole engine (tests/e2e/harness.py), talking to FakeTelegram.

`TelegramBot.wait_handled(n)` waits until the adapter's handlers executed `n` operations; it
observes ChatService.execute without changing what it does, and keeps each answer as the
Telegram adapter renders it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from adapters.telegram import TelegramAdapter
from adapters.telegram.wording import SYNTAX
from core.chat.commands import TELEGRAM_RULES
from core.chat.content import Content
from core.chat.operations import Operation, RunWorkflow
from core.chat.service import ChatService
from core.chat.text_render import TextRenderer, TextReply
from core.models import ChatRef, Run
from tests.e2e.harness import Engine, World
from tests.fakes.clock import WarpTime
from tests.fakes.telegram_api import FakeTelegram

ADMIN_ID = 1
USER_ID = 7
WEBHOOK_PATH = "/webhooks/telegram"


class ObservedChat:
    """A ChatService whose operations are recorded (operation, attachments, reply), in order."""

    def __init__(self, chat: ChatService) -> None:
        self._chat = chat
        self._words = TextRenderer(SYNTAX)
        self.handled: list[tuple[Operation, int, TextReply | None]] = []
        self.changed = asyncio.Condition()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chat, name)

    async def execute(self, operation: Operation, chat: ChatRef, **how: bool) -> Content:
        content = await self._chat.execute(operation, chat, **how)
        media = len(operation.media) if isinstance(operation, RunWorkflow) else 0
        self.handled.append((operation, media, self._words.render(content)))
        async with self.changed:
            self.changed.notify_all()
        return content


@dataclass
class TelegramBot:
    engine: Engine
    adapter: TelegramAdapter
    chat: ObservedChat
    fake: FakeTelegram
    world: World
    runs_seen: list[str] = field(default_factory=list)

    async def wait_handled(self, count: int, within: float = 10.0) -> TextReply | None:
        """Wait for the `count`-th operation (1-based) and the work it started; its reply."""
        async with asyncio.timeout(within), self.chat.changed:
            await self.chat.changed.wait_for(lambda: len(self.chat.handled) >= count)
        await self.engine.settle()
        return self.chat.handled[count - 1][2]

    async def last_run(self) -> Run:
        return await self.engine.last_run()

    async def run_for(self, message: dict[str, Any]) -> Run:
        """The run started by the command in `message` (runs remember their message)."""
        runs = await self.engine.container.runs_store.recent(100)
        found = [r for r in runs if r.chat.message_id == str(message["message_id"])]
        assert len(found) == 1, f"{len(found)} runs for message {message['message_id']}"
        return found[0]

    async def finish(self, run: Run) -> None:
        """Let the simulator run it to the end, and wait for the delivery."""
        assert run.backend_run_id is not None
        await self.world.sim.finish(run.backend_run_id)
        await self.engine.settle()

    async def advance(self, run: Run) -> None:
        assert run.backend_run_id is not None
        await self.world.sim.advance(run.backend_run_id)
        await self.engine.settle()


@asynccontextmanager
async def telegram_bot(
    w: World, fake: FakeTelegram, *, webhook: bool = False, **options: Any
) -> AsyncIterator[TelegramBot]:
    """One bot process: the engine, its HTTP server, and the Telegram adapter started. Its sends
    are paced on a `WarpTime` unless `pacing_timer=` says otherwise."""
    async with w.engine(http=False) as engine:
        container = engine.container
        chat = ObservedChat(container.chat_service(TELEGRAM_RULES))
        webhook_url = None
        if webhook:
            webhook_url = f"http://127.0.0.1:{w.settings.http_port}{WEBHOOK_PATH}"
        adapter = TelegramAdapter(
            fake.token,
            fake.base_url,
            chat,  # type: ignore[arg-type]
            container.kv,
            webhook_url=webhook_url,
            webhook_secret="s3cret-token" if webhook else None,
            poll_timeout_s=5,
            intake=container.update_intake,
            **{"pacing_timer": WarpTime(), **options},
        )
        container.delivery.add_notifier(adapter.notifier)
        container.catalog.on_change(adapter.on_catalog_change)
        await container.start_http(adapter.routes() if webhook else ())
        await adapter.start()
        container.payment_gateways["telegram"] = adapter.payment_gateway  # as bot/platforms.py
        try:
            yield TelegramBot(engine, adapter, chat, fake, w)
            await engine.settle()
        finally:
            await adapter.stop()
