"""A cancel while the run is being submitted: the user is told it is cancelled, and the run the
backend did create is cancelled there and recorded on ours, never left running (and billing)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.simulator import Route
from core.models import RunStatus
from tests.e2e.harness import world
from tests.fakes.waiting import eventually


async def test_a_cancel_during_the_submit_cancels_the_run_upstream(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        gate = w.sim.faults.hold_reply(Route.QUEUE)  # the backend has it; its answer is slow
        submitting = asyncio.create_task(bot.front.say("/txt2img in a hurry width=32 height=32"))

        async def queued() -> bool:
            return bool(w.sim.runs.all())

        await eventually(queued)
        run = await bot.last_run()
        assert run.status is RunStatus.PENDING
        cancelled = await bot.say(f"/cancel {run.id}")
        assert cancelled is not None and cancelled.text == f"Run {run.id}: 🚫 Cancelled."
        gate.set()
        await submitting
        await bot.settle()

        [upstream] = w.sim.runs.all()
        assert upstream.status == "cancelled"
        stored = await bot.container.runs_store.get(run.id)
        assert stored is not None
        assert (stored.status, stored.backend_run_id) == (RunStatus.CANCELLED, upstream.id)
        assert bot.seen().count("🚫 Cancelled") == 1
