"""A flaky backend: 5xx and 429 retried (honouring Retry-After); timeouts fail clearly."""

from __future__ import annotations

from pathlib import Path

from adapters.simulator import Route
from core.models import RunStatus
from tests.e2e.harness import world


async def test_queue_5xx_and_429_are_retried(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        w.sim.faults.fail_next(Route.QUEUE, 503, count=2)
        w.sim.faults.fail_next(Route.QUEUE, 429, count=1, retry_after=7)
        await bot.say("/txt2img a stubborn mule width=32 height=32")
        run = await bot.last_run()
        assert run.status is RunStatus.NOT_STARTED
        assert run.backend_run_id is not None
        assert w.sim.faults.hits[Route.QUEUE] == 4
        assert 7 in w.retry_waits
        assert len(w.sim.runs.all()) == 1


async def test_poll_5xx_is_retried_then_succeeds(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path, public_base_url=None) as w, w.engine(http=False) as bot:
        await bot.say("/txt2img a patient owl width=32 height=32")
        run = await bot.last_run()
        assert run.backend_run_id is not None
        await w.sim.finish(run.backend_run_id)
        w.sim.faults.fail_next(Route.GET_RUN, 502, count=2)
        w.clock.advance(w.settings.poll_interval_seconds + 1)
        await bot.container.watch.poll_due()
        await bot.settle()
        assert "✅ Done" in bot.seen()


async def test_unreachable_backend_fails_the_run_clearly(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        w.sim.faults.fail_next(Route.QUEUE, 503, count=50)
        await bot.say("/txt2img never queued width=32 height=32")
        run = await bot.last_run()
        assert run.status is RunStatus.FAILED
        assert "Could not start the run (backend unreachable)" in bot.seen()
        assert len(w.sim.runs.all()) == 0


async def test_queue_timeout_is_not_resubmitted(mongo_uri: str, tmp_path: Path) -> None:
    settings = {"comfydeploy_timeout_seconds": 0.3}
    async with world(mongo_uri, tmp_path, **settings) as w, w.engine() as bot:
        gate = w.sim.faults.hold(Route.QUEUE)
        await bot.say("/txt2img lost in the post width=32 height=32")
        gate.set()
        await w.sim.drain_webhooks()
        run = await bot.last_run()
        assert run.status is RunStatus.FAILED
        assert "it may still run" in bot.seen()
        # One request only: a second could have started a second, paid run.
        assert w.sim.faults.hits[Route.QUEUE] == 1


async def test_poll_timeouts_back_off_and_keep_the_run(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        world(mongo_uri, tmp_path, public_base_url=None, comfydeploy_timeout_seconds=0.2) as w,
        w.engine(http=False) as bot,
    ):
        await bot.say("/txt2img a slow network width=32 height=32")
        run = await bot.last_run()
        gate = w.sim.faults.hold(Route.GET_RUN, count=10)
        w.clock.advance(w.settings.poll_interval_seconds + 1)
        await bot.container.watch.poll_due()
        stored = await bot.container.runs_store.get(run.id)
        assert stored is not None
        assert stored.status is RunStatus.NOT_STARTED
        assert stored.poll_failures == 1
        assert stored.next_poll_at is not None
        assert stored.next_poll_at > w.clock.now()
        gate.set()
