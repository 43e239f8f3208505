"""The Discord adapter on the whole engine (tests/e2e/harness.py), talking to FakeDiscord.

`DiscordBot.wait_handled(n)` waits until the adapter's handlers executed `n` operations; it
observes ChatService.execute without changing what it does. The fake shares the world's clock,
so moving it expires interaction tokens as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from adapters.discord import DiscordAdapter, DiscordConfig
from core.chat.commands import DISCORD_RULES
from core.chat.content import Content
from core.chat.operations import Operation
from core.chat.service import ChatService
from core.models import ChatRef, Run
from core.ports import WorkflowBackend
from tests.e2e.harness import Engine, World
from tests.fakes.discord_api import FakeDiscord, InteractionRecord, StoredMessage
from tests.fakes.discord_objects import Channel, Guild, User

MESSAGES = "POST /channels/{channel_id}/messages"
ORIGINAL = "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"
MANAGE_GUILD = 1 << 5


@dataclass
class Lab:
    """A guild with a channel, a thread and a member: where the tests use the bot."""

    guild: Guild
    channel: Channel
    thread: Channel
    ann: User

    @classmethod
    def build(cls, fake: FakeDiscord) -> Lab:
        guild = fake.add_guild("Comfy Lab")
        channel = fake.add_text_channel(guild, "renders")
        thread = fake.add_thread(channel, "fox ideas")
        ann = fake.add_user("ann", "Ann")
        fake.add_member(guild, ann)
        return cls(guild, channel, thread, ann)


class ObservedChat:
    """A ChatService whose operations are recorded (operation, content), in order."""

    def __init__(self, chat: ChatService) -> None:
        self._chat = chat
        self.handled: list[tuple[Operation, Content]] = []
        self.changed = asyncio.Condition()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chat, name)

    async def execute(
        self, operation: Operation, chat: ChatRef, *, place_admin: bool = False
    ) -> Content:
        content = await self._chat.execute(operation, chat, place_admin=place_admin)
        self.handled.append((operation, content))
        async with self.changed:
            self.changed.notify_all()
        return content


@dataclass
class DiscordBot:
    engine: Engine
    adapter: DiscordAdapter
    chat: ObservedChat
    fake: FakeDiscord
    world: World
    seen: list[str] = field(default_factory=list)

    async def wait_handled(self, count: int, within: float = 10.0) -> Content:
        """The `count`-th operation's content (1-based), once the work it started settled."""
        async with asyncio.timeout(within), self.chat.changed:
            await self.chat.changed.wait_for(lambda: len(self.chat.handled) >= count)
        await self.engine.settle()
        return self.chat.handled[count - 1][1]

    async def reply(self, record: InteractionRecord, count: int) -> StoredMessage:
        """The response of the `count`-th operation, `record`, once it was written."""
        await self.wait_handled(count)
        response = await self.fake.wait_for(lambda: _answered(self.fake, record))
        return response

    async def start_txt2img(
        self, prompt: str, channel: Channel, user: User, handled: int = 1
    ) -> tuple[InteractionRecord, Run]:
        """`/txt2img` with a small picture, once the bot has handled it (its `handled`-th
        interaction), and the run it started."""
        record = self.fake.slash_command(
            "txt2img",
            {"prompt": prompt, "width": 32, "height": 32},
            channel=channel,
            user=user,
        )
        await self.wait_handled(handled)
        return record, await self.run_for(record)

    async def run_for(self, record: InteractionRecord) -> Run:
        """The run an interaction started (runs remember the interaction)."""
        runs = await self.engine.container.runs_store.recent(100)
        found = [r for r in runs if r.chat.message_id == str(record.id)]
        assert len(found) == 1, f"{len(found)} runs for interaction {record.id}"
        return found[0]

    async def advance(self, run: Run) -> None:
        assert run.backend_run_id is not None
        await self.world.sim.advance(run.backend_run_id)
        await self.engine.settle()

    async def finish(self, run: Run) -> None:
        assert run.backend_run_id is not None
        await self.world.sim.finish(run.backend_run_id)
        await self.engine.settle()

    def posted(self, channel: Channel) -> list[StoredMessage]:
        """What everyone sees in a channel: its messages that are not ephemeral."""
        return [m for m in self.fake.messages_in(channel) if not m.ephemeral]


def _answered(fake: FakeDiscord, record: InteractionRecord) -> StoredMessage | None:
    if record.original_id is None:
        return None
    message = fake.world.find_message(record.original_id)
    return message if message is not None and not message.loading else None


@asynccontextmanager
async def discord_bot(
    w: World,
    fake: FakeDiscord,
    *,
    engine: Engine | None = None,
    guild_ids: Sequence[int] = (),
    backends: Sequence[WorkflowBackend] | None = None,
    http: bool = True,
    connect: bool = True,
) -> AsyncIterator[DiscordBot]:
    """One bot process with the Discord adapter started (on `engine` if given, else on a new
    engine, with its HTTP server unless `http` is False: one per world); without `connect`,
    logged in but with no gateway session (`adapter.connect_gateway` opens one)."""
    if engine is None:
        async with (
            w.engine(backends=backends, http=http) as own,
            discord_bot(w, fake, engine=own, guild_ids=guild_ids) as bot,
        ):
            yield bot
        return
    container = engine.container
    chat = ObservedChat(container.chat_service(DISCORD_RULES))
    config = DiscordConfig(
        token=fake.token,
        guild_ids=guild_ids,
        api_base_url=fake.api_base,
        gateway_url=fake.gateway_url,
        ready_timeout_s=10,
        guild_ready_timeout_s=0.05,
    )
    adapter = DiscordAdapter(config, chat, container.kv, container.clock)  # type: ignore[arg-type]
    container.delivery.add_notifier(adapter.notifier)
    container.catalog.on_change(adapter.on_catalog_change)
    await adapter.start(connect=connect)
    try:
        yield DiscordBot(engine, adapter, chat, fake, w)
        await engine.settle()
    finally:
        await adapter.stop()
