"""A flaky backend: 5xx and 429 retried (honouring Retry-After); a lost answer never resubmitted,
but found again; runs left pending are acted on."""

from __future__ import annotations

from pathlib import Path

from adapters.simulator import Route
from core.models import ChatRef, Run, RunStatus
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


async def test_a_lost_queue_reply_is_never_resubmitted_and_the_run_is_adopted(
    mongo_uri: str, tmp_path: Path
) -> None:
    settings = {"comfydeploy_timeout_seconds": 0.3}
    async with world(mongo_uri, tmp_path, **settings) as w, w.engine() as bot:
        gate = w.sim.faults.hold_reply(Route.QUEUE)  # ComfyDeploy queues it; the answer is lost
        await bot.say("/txt2img lost in the post width=32 height=32")
        gate.set()
        run = await bot.last_run()
        assert (run.status, run.backend_run_id) == (RunStatus.PENDING, None)
        [queued] = w.sim.runs.all()
        await w.sim.advance(queued.id)  # its first webhook names the backend's run id
        await bot.settle()
        adopted = await bot.last_run()
        assert adopted.backend_run_id == queued.id and adopted.status is not RunStatus.PENDING
        await w.sim.finish(queued.id)
        await bot.settle()
        assert bot.seen().count("✅ Done") == 1
        # One request only: a second could have started a second, paid run.
        assert w.sim.faults.hits[Route.QUEUE] == 1


async def test_a_lost_reply_without_webhooks_is_found_by_the_periodic_job(
    mongo_uri: str, tmp_path: Path
) -> None:
    settings = {"comfydeploy_timeout_seconds": 0.3}
    async with world(mongo_uri, tmp_path, **settings) as w, w.engine() as bot:
        w.sim.webhooks.drop(count=None)
        gate = w.sim.faults.hold_reply(Route.QUEUE)
        await bot.say("/txt2img lost twice width=32 height=32")
        gate.set()
        [queued] = w.sim.runs.all()
        dispatcher = bot.container.dispatcher
        assert await dispatcher.settle_pending() == 0  # too soon: its submit may still answer
        w.clock.advance(61)
        assert await dispatcher.settle_pending() == 1
        found = await bot.last_run()
        assert (found.backend_run_id, found.status) == (queued.id, RunStatus.NOT_STARTED)
        assert w.sim.faults.hits[Route.QUEUE] == 1


async def test_a_run_the_backend_never_got_fails_after_the_grace(
    mongo_uri: str, tmp_path: Path
) -> None:
    settings = {"comfydeploy_timeout_seconds": 0.3}
    async with world(mongo_uri, tmp_path, **settings) as w, w.engine() as bot:
        gate = w.sim.faults.hold(Route.QUEUE)  # held before the handler: never queued
        await bot.say("/txt2img lost for good width=32 height=32")
        dispatcher = bot.container.dispatcher
        w.clock.advance(61)
        assert await dispatcher.settle_pending() == 0  # not found yet, not given up yet
        w.clock.advance(15 * 60)
        assert await dispatcher.settle_pending() == 1
        gate.set()
        await bot.settle()
        run = await bot.last_run()
        assert run.status is RunStatus.FAILED and run.cost_usd is None
        assert "The backend never confirmed this run" in bot.seen()
        assert w.sim.faults.hits[Route.QUEUE] == 1


async def test_a_run_recorded_but_never_submitted_is_submitted_by_the_periodic_job(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        now = w.clock.now()
        orphan = Run(
            id="orphan000001",
            workflow="txt2img",
            deployment_id="any",
            inputs={"prompt": "a fox", "width": 32, "height": 32},
            chat=ChatRef(platform="console", chat_id="console", user_id="local"),
            created_at=now,
            updated_at=now,
        )
        await bot.container.runs_store.insert(orphan)  # its process died before the submit
        assert await bot.container.dispatcher.settle_pending() == 0  # not begun: the queue's
        assert "start queued runs" in [job.name for job in bot.container.jobs()]
        await bot.container.queue.pump()
        submitted = await bot.container.runs_store.get(orphan.id)
        assert submitted is not None and submitted.status is RunStatus.NOT_STARTED
        assert len(w.sim.runs.all()) == 1


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
