"""The deferred response comes before any database or backend work: with the stores the chat
layer uses held shut, a slash command and a button press are still acknowledged (type 5), and
they do their work once the stores open again."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from core.chat.content import RunAccepted
from tests.e2e.harness import world
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_e2e import Lab, discord_bot

PROMPT = {"prompt": "a heron", "width": 32, "height": 32}


class Gate:
    """Holds every coroutine method of the objects it wraps until it is opened."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self.waiting = 0
        self._changed = asyncio.Condition()

    def wrap(self, *targets: object) -> None:
        for target in targets:
            for name, method in inspect.getmembers(target, inspect.iscoroutinefunction):
                if not name.startswith("_"):
                    setattr(target, name, self._held(method))

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    async def blocked(self) -> None:
        """Until some call waits at the gate."""
        async with asyncio.timeout(5), self._changed:
            await self._changed.wait_for(lambda: self.waiting > 0)

    def _held(
        self, method: Callable[..., Coroutine[Any, Any, Any]]
    ) -> Callable[..., Coroutine[Any, Any, Any]]:
        @functools.wraps(method)
        async def held(*args: Any, **kwargs: Any) -> Any:
            if not self._open.is_set():
                self.waiting += 1
                async with self._changed:
                    self._changed.notify_all()
                try:
                    await self._open.wait()
                finally:
                    self.waiting -= 1
            return await method(*args, **kwargs)

        return held


async def test_commands_and_buttons_are_deferred_before_any_store_is_touched(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as dc:
            container = dc.engine.container
            gate = Gate()
            gate.wrap(
                container.runs_store,
                container.users,
                container.finder,
                container.accounts,
                container.kv,
            )

            gate.close()
            record = fake.slash_command("txt2img", PROMPT, channel=lab.channel, user=lab.ann)
            response = await fake.wait_for_response(record)
            await gate.blocked()
            assert response.type == 5 and response.ephemeral
            assert dc.chat.handled == []  # its one core call is still held at the stores
            gate.open()
            assert isinstance(await dc.wait_handled(1), RunAccepted)
            run = await dc.run_for(record)
            buttons = await fake.wait_for(lambda: fake.interactions.original(record).custom_ids)
            assert buttons == [f"cancel:{run.id}"]

            gate.close()
            press = fake.press_button(
                fake.interactions.original(record), f"cancel:{run.id}", user=lab.ann
            )
            pressed = await fake.wait_for_response(press)
            await gate.blocked()
            assert pressed.type == 5 and len(dc.chat.handled) == 1
            gate.open()
            reply = await dc.reply(press, 2)
            assert reply.ephemeral and reply.content == f"Run {run.id}: 🚫 Cancelled."
