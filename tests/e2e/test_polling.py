"""Runs whose webhooks never arrive are still followed to the end, by polling."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from adapters.simulator import Route
from core.models import RunStatus
from tests.e2e.harness import Engine, World, world


async def _poll_until_done(w: World, bot: Engine, interval_s: float) -> RunStatus:
    run = await bot.last_run()
    assert run.backend_run_id is not None
    for _ in range(20):
        w.clock.advance(interval_s)
        await bot.container.watch.poll_due()
        await bot.settle()
        run = await bot.last_run()
        if run.status.terminal:
            return run.status
        await w.sim.advance(run.backend_run_id)
    raise AssertionError(f"run still {run.status} after 20 polls")


async def test_without_public_url_every_run_is_polled(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path, webhooks=False) as w, w.engine(http=False) as bot:
        await bot.say("/txt2img a lighthouse at dusk width=32 height=32")
        run = await bot.last_run()
        assert run.backend_run_id is not None
        # The simulator was given no webhook URL, so it sends nothing.
        assert w.sim.run(run.backend_run_id).webhook is None

        status = await _poll_until_done(w, bot, w.settings.poll_interval_seconds)

        assert status is RunStatus.SUCCESS
        assert bot.seen().count("✅ Done") == 1
        assert w.sim.webhooks.attempts == []


async def test_polls_keep_the_interval_however_late_the_check_for_them_comes(
    mongo_uri: str, tmp_path: Path
) -> None:
    """The scheduler looks for due runs every `check_every_s` (fake time here, moved a tick at
    a time, out of step with when polls are due) and each poll takes a moment (the backend's
    answer, 0.2 s of fake time): each poll is found up to a tick late, and the next one is
    still due an interval after the previous one was due, not an interval plus the lateness
    (which missed a tick and waited for the next: 2x when the ticks were POLL_INTERVAL
    apart)."""
    async with world(mongo_uri, tmp_path, webhooks=False) as w, w.engine(http=False) as bot:
        await bot.say("/txt2img a slow tide width=32 height=32")
        run = await bot.last_run()
        assert run.backend_run_id is not None
        interval = w.settings.poll_interval_seconds
        tick = bot.container.watch.check_every_s
        assert tick <= interval / 10
        polled_at: list[float] = []
        elapsed = 0.37 * tick
        w.clock.advance(elapsed)
        while len(polled_at) < 10:
            w.clock.advance(tick)
            elapsed += tick
            stored = await bot.container.runs_store.get(run.id)
            assert stored is not None and stored.next_poll_at is not None
            if stored.next_poll_at > w.clock.now():
                assert await bot.container.watch.poll_due() == 0
                continue
            answer = w.sim.faults.hold(Route.GET_RUN)
            polling = asyncio.create_task(bot.container.watch.poll_due())
            await w.sim.faults.wait_held(Route.GET_RUN)
            polled_at.append(elapsed)
            w.clock.advance(0.2)
            elapsed += 0.2
            answer.set()
            assert await polling == 1
            if len(polled_at) % 3 == 0:  # some polls find progress, some find none
                await w.sim.advance(run.backend_run_id)
        gaps = [b - a for a, b in itertools.pairwise(polled_at)]
        assert all(abs(gap - interval) <= interval / 10 for gap in gaps), gaps
        mean = (polled_at[-1] - polled_at[0]) / len(gaps)
        assert abs(mean - interval) <= interval / 50, gaps  # the lateness did not add up


async def test_quiet_run_is_polled_when_webhooks_are_lost(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        w.sim.webhooks.drop()
        await bot.say("/txt2img a quiet harbour width=32 height=32")
        run = await bot.last_run()
        assert run.backend_run_id is not None
        await w.sim.finish(run.backend_run_id)

        # Not yet quiet for POLL_AFTER_SECONDS: nothing is polled.
        assert await bot.container.watch.poll_due() == 0
        w.clock.advance(w.settings.poll_after_seconds + 1)
        assert await bot.container.watch.poll_due() == 1
        await bot.settle()

        stored = await bot.container.runs_store.get(run.id)
        assert stored is not None and stored.status is RunStatus.SUCCESS
        assert bot.seen().count("✅ Done") == 1
        assert "image: " in bot.seen()


async def test_run_past_the_timeout_is_ended(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path, run_timeout_seconds=120) as w, w.engine() as bot:
        await bot.say("/txt2img a slow painting width=32 height=32")
        run = await bot.last_run()
        w.clock.advance(121)
        assert await bot.container.watch.expire_overdue() == 1
        await bot.settle()

        stored = await bot.container.runs_store.get(run.id)
        assert stored is not None and stored.status is RunStatus.TIMEOUT
        assert "⌛ Timed out" in bot.seen()
        assert "longer than 120 seconds" in bot.seen()
        # The backend run was cancelled too, so it stops costing money.
        assert run.backend_run_id is not None
        assert w.sim.run(run.backend_run_id).status == "cancelled"
