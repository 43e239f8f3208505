"""Results in bursts under Telegram's flood limits, enforced by the fake on the same time the
bot's pacer keeps (WarpTime: the waits are real to both, but cost no real time)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.models import DeliveryState
from tests.e2e.harness import world
from tests.fakes.clock import WarpTime
from tests.fakes.telegram_api import FakeTelegram, FloodLimits
from tests.fakes.telegram_e2e import USER_ID, telegram_bot

PRIVATE_CHATS = (11, 12)
GROUP = -1005
RUNS = {**dict.fromkeys(PRIVATE_CHATS, 3), GROUP: 7}
"""The group's 7 status messages, results and final edits are over its 20 a minute."""


async def test_a_burst_of_results_reaches_every_chat_with_every_status_final(
    mongo_uri: str, tmp_path: Path
) -> None:
    warp = WarpTime()
    async with (
        FakeTelegram(limits=FloodLimits(), clock=warp) as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake, pacing_timer=warp) as tg,
    ):
        commands = [
            fake.send_text(chat, USER_ID, f"/txt2img fox {n} width=32 height=32")
            for chat, count in RUNS.items()
            for n in range(count)
        ]
        await tg.wait_handled(len(commands))
        runs = await tg.engine.container.runs_store.recent(100)
        assert len(runs) == len(commands)
        backend_ids = [run.backend_run_id for run in runs]
        await asyncio.gather(*(w.sim.finish(rid) for rid in backend_ids if rid is not None))
        await tg.engine.settle()

        for chat, count in RUNS.items():
            assert len(fake.sent("sendPhoto", chat)) == count, chat
        statuses = fake.histories(where=lambda h: "✖ Cancel" in str(h.first.buttons))
        assert len(statuses) == len(runs)
        for status in statuses:
            assert status.final.buttons == [] and "✅ Done" in (status.final.text or "")
        assert sum(fake.flood_429s.values()) <= 2
        for stored in await tg.engine.container.runs_store.recent(100):
            assert stored.delivery is DeliveryState.DELIVERED and stored.delivery_attempts == 0
        assert warp.slept >= 60  # the group's minute, kept by the bot, not learnt from 429s


async def test_a_flood_wait_is_sat_out_and_the_photo_sent_right_after(
    mongo_uri: str, tmp_path: Path
) -> None:
    warp = WarpTime()
    async with (
        FakeTelegram(limits=FloodLimits(), clock=warp) as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake, pacing_timer=warp) as tg,
    ):
        command = fake.send_text(5, USER_ID, "/txt2img a fox width=32 height=32")
        await tg.wait_handled(1)
        fake.fail_next("sendPhoto", retry_after=7)
        before = warp.slept
        await tg.finish(await tg.run_for(command))

        refused, sent = [c for c in fake.calls if c.method == "sendPhoto"]
        assert (refused.ok, sent.ok) == (False, True)
        assert warp.slept - before >= 7
        stored = await tg.run_for(command)  # no delivery job was needed: it went on the spot
        assert stored.delivery is DeliveryState.DELIVERED and stored.delivery_attempts == 0
        status = fake.histories(5, lambda h: bool(h.first.buttons))[0]
        assert status.final.buttons == [] and "✅ Done" in (status.final.text or "")
