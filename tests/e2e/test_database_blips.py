"""The database dropping a connection at the worst moment (a restart, a failover) neither
frees a run nor loses a result: an insert whose answer was lost but which was written keeps
its credit hold; a photo Telegram refused, whose journal entry could not be taken back at
first, is still sent, once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pymongo.errors import AutoReconnect

from core.credits import charge_for
from core.ledger import LedgerKind
from core.models import DeliveryState, PartState
from tests.e2e.harness import world
from tests.e2e.test_credits import ALICE, balance_of, kinds
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_e2e import USER_ID, telegram_bot

CHAT = 5


def answer_lost_after(call: Callable[..., Awaitable[Any]], times: int = 1) -> Callable[..., Any]:
    """`call` carried out, then the connection "drops" before its answer (`times` times)."""
    left = [times]

    async def lost(*args: Any) -> Any:
        result = await call(*args)
        if left[0]:
            left[0] -= 1
            raise AutoReconnect("connection closed after the write")
        return result

    return lost


async def test_a_run_written_although_its_insert_failed_keeps_its_hold(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path, shared_clock=True) as w, w.engine() as bot:
        store = bot.container.runs_store
        store.insert = answer_lost_after(store.insert)  # type: ignore[method-assign]
        assert await bot.say("/txt2img a fox width=32 height=32", who=ALICE) is None
        run = await bot.last_run()
        assert run.credits is not None and run.backend_run_id is not None
        assert (await balance_of(bot, ALICE))[1] == run.credits.held  # still held
        await w.sim.finish(run.backend_run_id)
        await bot.settle()
        ended = await store.get(run.id)
        assert ended is not None
        assert await balance_of(bot, ALICE) == (100_000 - charge_for(ended), 0)
        assert LedgerKind.RELEASE not in await kinds(bot, ALICE)
        assert len(await store.recent(5)) == 1


async def test_a_refused_photo_whose_journal_entry_failed_to_clear_is_sent_once(
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
        store = tg.engine.container.runs_store
        real_set_part = store.set_part

        async def blip_on_undo(run_id: str, owner: str, part: str, state: Any) -> bool:
            if state is None and not blips:  # taking "sending" back, after Telegram's 429
                blips.append(part)
                raise AutoReconnect("the database restarts")
            return await real_set_part(run_id, owner, part, state)

        blips: list[str] = []
        store.set_part = blip_on_undo  # type: ignore[method-assign]
        # 429 with a wait too long to sit out (left to the delivery's retry): surely not sent.
        fake.fail_next("sendPhoto", retry_after=60)
        await tg.finish(run)
        assert blips == ["photos-0"] and fake.sent("sendPhoto", CHAT) == []
        stored = await store.get(run.id)
        assert stored is not None and stored.delivery_parts == {}  # taken back after all
        w.clock.advance(61)
        assert await tg.engine.container.delivery.deliver_due() == 1
        await tg.engine.settle()
        assert len(fake.sent("sendPhoto", CHAT)) == 1
        delivered = await store.get(run.id)
        assert delivered is not None and delivered.delivery_parts == {"photos-0": PartState.SENT}


async def test_a_photo_whose_sending_mark_lost_its_answer_is_sent_once(
    mongo_uri: str, tmp_path: Path
) -> None:
    """The mark `sending` is written but its answer lost: nothing went out, so it is taken back
    and the next attempt sends the photo."""
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        command = fake.send_text(CHAT, USER_ID, "/txt2img a fox width=32 height=32")
        await tg.wait_handled(1)
        run = await tg.run_for(command)
        store = tg.engine.container.runs_store
        real_set_part = store.set_part
        lost: list[str] = []

        async def answer_lost_on_mark(run_id: str, owner: str, part: str, state: Any) -> bool:
            written = await real_set_part(run_id, owner, part, state)
            if state is PartState.SENDING and not lost:
                lost.append(part)
                raise AutoReconnect("connection closed after the write")
            return written

        store.set_part = answer_lost_on_mark  # type: ignore[method-assign]
        await tg.finish(run)
        assert lost == ["photos-0"] and fake.sent("sendPhoto", CHAT) == []
        stored = await store.get(run.id)
        assert stored is not None and stored.delivery_parts == {}
        w.clock.advance(300)
        assert await tg.engine.container.delivery.deliver_due() == 1
        await tg.engine.settle()
        assert len(fake.sent("sendPhoto", CHAT)) == 1


async def test_a_result_whose_delivered_mark_failed_is_not_posted_again(
    mongo_uri: str, tmp_path: Path
) -> None:
    """The photo went out but the database is away when the delivery is recorded: the claim
    runs out, and whoever takes it next finds every message sent and only records it."""
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        command = fake.send_text(CHAT, USER_ID, "/txt2img a fox width=32 height=32")
        await tg.wait_handled(1)
        run = await tg.run_for(command)
        store = tg.engine.container.runs_store
        real_finish = store.finish_delivery
        away = [True]

        async def database_away(run_id: str, owner: str, now: Any) -> bool:
            if away[0]:
                raise AutoReconnect("the database restarts")
            return await real_finish(run_id, owner, now)

        store.finish_delivery = database_away  # type: ignore[method-assign]
        await tg.finish(run)
        assert len(fake.sent("sendPhoto", CHAT)) == 1
        stored = await store.get(run.id)
        assert stored is not None and stored.delivery is DeliveryState.CLAIMED
        away[0] = False
        w.clock.advance(tg.engine.container.settings.delivery_lease_seconds + 1)
        assert await tg.engine.container.delivery.deliver_due() == 1
        await tg.engine.settle()
        assert len(fake.sent("sendPhoto", CHAT)) == 1
        delivered = await store.get(run.id)
        assert delivered is not None and delivered.delivery is DeliveryState.DELIVERED
        assert delivered.delivery_parts == {"photos-0": PartState.SENT}
