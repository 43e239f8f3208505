"""Runs we follow ourselves: asked once more before a timeout, polled with bounded concurrency,
and a run the backend forgot (it restarted) billed only for the time the backend spoke of it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.simulator import Route, SimulatorServer
from bot.scheduler import Job
from core.models import RunStatus
from tests.e2e.harness import world
from tests.fakes.waiting import eventually


async def test_a_run_that_finished_unseen_is_polled_before_it_would_time_out(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        w.sim.webhooks.drop(count=None)
        await bot.say("/txt2img quietly done width=32 height=32")
        run = await bot.last_run()
        assert run.backend_run_id is not None
        await w.sim.finish(run.backend_run_id)  # every webhook about it is lost
        w.clock.advance(w.settings.run_timeout_seconds + 1)
        assert await bot.container.watch.expire_overdue() == 1
        await bot.settle()
        stored = await bot.container.runs_store.get(run.id)
        assert stored is not None and stored.status is RunStatus.SUCCESS
        assert "✅ Done" in bot.seen() and "⌛ Timed out" not in bot.seen()


async def test_polls_are_bounded_in_number_at_once(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path, public_base_url=None) as w, w.engine(http=False) as bot:
        for index in range(12):
            await bot.say(f"/txt2img owl {index} width=32 height=32")
            w.clock.advance(0.001)
        gate = w.sim.faults.hold(Route.GET_RUN, count=None)
        w.clock.advance(w.settings.poll_interval_seconds + 1)
        sweep = asyncio.create_task(bot.container.watch.poll_due())

        async def eight_waiting() -> bool:
            return w.sim.faults.waiting[Route.GET_RUN] == 8

        await eventually(eight_waiting)
        for _ in range(20):
            await asyncio.sleep(0)  # room for a ninth, if the bound did not hold
        assert w.sim.faults.waiting[Route.GET_RUN] == 8
        gate.set()
        assert await sweep == 12


async def test_a_run_the_backend_forgot_is_billed_only_until_it_last_spoke(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path, shared_clock=True, public_base_url=None) as w:
        async with w.engine(http=False) as bot:
            await bot.say("/txt2img cut off width=32 height=32")
            run = await bot.last_run()
            assert run.backend_run_id is not None
            await w.sim.advance(run.backend_run_id)  # queued
            w.clock.advance(10)
            await w.sim.advance(run.backend_run_id)  # started, 10 s later
            w.clock.advance(w.settings.poll_interval_seconds)
            await bot.container.watch.poll_due()  # we hear of it: started
        # Both go down; the backend comes back without the run. The bot is down for hours.
        port = w.sim.port
        await w.sim.stop()
        w.sim = SimulatorServer(mode="manual", port=port, clock=w.clock.now)
        await w.sim.start()
        w.clock.advance(3 * 3600)
        async with w.engine(http=False) as restarted:
            await restarted.settle()
            lost = await restarted.container.runs_store.get(run.id)
    assert lost is not None and lost.status is RunStatus.FAILED
    assert lost.rate_usd_per_s is not None
    billed = lost.rate_usd_per_s * (w.settings.poll_interval_seconds + 10)
    assert lost.cost_usd == pytest.approx(billed, abs=1e-6)  # not three hours of it


async def test_reconcile_waiting_on_the_backend_holds_up_neither_jobs_nor_the_heartbeat(
    mongo_uri: str, tmp_path: Path
) -> None:
    """The sweeps' holder polls every unfinished run at its start; while the backend sits on
    those polls, the other jobs run and the lease is renewed (no other process takes over)."""
    async with (
        world(mongo_uri, tmp_path, public_base_url=None) as w,
        w.engine(http=False, settle=False) as bot,
    ):
        await bot.say("/txt2img left unfinished width=32 height=32")
        container = bot.container
        gate = w.sim.faults.hold(Route.GET_RUN, count=None)
        ran_while_held = asyncio.Event()

        async def probe() -> None:
            if w.sim.faults.waiting[Route.GET_RUN] >= 1:
                ran_while_held.set()

        try:
            container.start_scheduler(extra=[Job("probe", 0.05, probe)])
            async with asyncio.timeout(30):
                await w.sim.faults.wait_held(Route.GET_RUN)
            leases = container.db["leases"]
            before = await leases.find_one({"_id": "sweeps"})
            assert before is not None and container.sweeps.held
            w.clock.advance(container.lease_timing.renew_every_s)

            async def renewed() -> bool:
                now = await leases.find_one({"_id": "sweeps"})
                return now is not None and now["until"] > before["until"]

            await eventually(renewed, within=30)
            async with asyncio.timeout(30):
                await ran_while_held.wait()
            assert container.sweeps.held and w.sim.faults.waiting[Route.GET_RUN] >= 1
        finally:
            gate.set()
