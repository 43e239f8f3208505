"""A result part waiting for its chat's turn (Telegram's pace: one request at a time, a second
apart) is not yet journaled `sending`: had the process died during the wait, the next holder
would send it rather than leave it out as "may have gone". It is marked when its request
leaves the pacer, and sent once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

from adapters.telegram.pacing import TelegramPacer
from core.models import DeliveryState, PartState
from core.pacing import NEW
from tests.e2e.harness import world
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_e2e import USER_ID, telegram_bot
from tests.fakes.waiting import eventually

CHAT = 31


async def test_a_photo_waiting_for_its_chats_turn_is_marked_sending_only_when_it_leaves(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        command = fake.send_text(CHAT, USER_ID, "/txt2img a fox width=32 height=32")
        await tg.wait_handled(1)
        run = await tg.run_for(command)
        assert run.backend_run_id is not None
        pacer = cast(TelegramPacer, tg.adapter.application.bot.rate_limiter).pacer

        simulated = w.sim.run(run.backend_run_id)
        while simulated.next_step < len(simulated.plan) - 1:  # all but the end
            await w.sim.advance(run.backend_run_id)
        await tg.engine.settle()  # every progress edit made: none holds the chat

        # The answer to another command holds the chat's turn when the result is ready.
        stall = fake.accept_then_stall("sendMessage")
        fake.send_text(CHAT, USER_ID, "/workflows")
        async with asyncio.timeout(10):
            await stall.accepted.wait()
        await w.sim.advance(run.backend_run_id)
        assert simulated.terminal

        async def photo_waits() -> bool:
            return NEW in pacer.waiting(str(CHAT))  # the only new message after the reply

        await eventually(photo_waits, within=10, every=0.01)

        waiting = await tg.run_for(command)
        assert waiting.status.terminal and waiting.delivery is not DeliveryState.DELIVERED
        assert PartState.SENDING not in waiting.delivery_parts.values()
        assert fake.sent("sendPhoto", CHAT) == []

        stall.release()
        await tg.wait_handled(2)
        await tg.engine.settle()
        delivered = await tg.run_for(command)
        assert delivered.delivery is DeliveryState.DELIVERED
        assert set(delivered.delivery_parts.values()) == {PartState.SENT}
        assert len(fake.sent("sendPhoto", CHAT)) == 1
