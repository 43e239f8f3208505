"""The bot stops mid-run; the run ends while it is down; the next process delivers it once."""

from __future__ import annotations

from pathlib import Path

from core.models import DeliveryState, RunStatus
from tests.e2e.harness import world


async def test_result_survives_a_restart(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w:
        async with w.engine() as first:
            await first.say("/txt2img a phoenix width=32 height=32")
            run = await first.last_run()
            assert run.backend_run_id is not None
            await w.sim.advance(run.backend_run_id)
            await first.settle()
        # The bot is down: the simulator's webhooks find nobody listening and are given up.
        await w.sim.finish(run.backend_run_id)
        refused = [a for a in w.sim.webhooks.attempts if a.body["status"] == "success"]
        assert refused and all(a.status is None for a in refused)
        assert "✅ Done" not in first.seen()

        async with w.engine() as second:
            await second.settle()
            stored = await second.container.runs_store.get(run.id)
            assert stored is not None
            assert stored.status is RunStatus.SUCCESS
            assert stored.delivery is DeliveryState.DELIVERED
            assert second.seen().count("✅ Done") == 1
            assert "image: " in second.seen()

        # A third start finds nothing left to deliver.
        async with w.engine() as third:
            await third.settle()
            assert "✅ Done" not in third.seen()


async def test_two_processes_deliver_a_result_once(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        world(mongo_uri, tmp_path, public_base_url=None) as w,
        w.engine(http=False) as one,
        w.engine(http=False) as two,
    ):
        await one.say("/txt2img twins width=32 height=32")
        run = await one.last_run()
        assert run.backend_run_id is not None
        await w.sim.finish(run.backend_run_id)
        w.clock.advance(w.settings.poll_interval_seconds + 1)
        # Both processes poll the same run and both see it finished.
        await one.container.watch.poll_due()
        await two.container.watch.poll_due()
        await one.container.delivery.deliver_due()
        await two.container.delivery.deliver_due()
        await one.settle()
        await two.settle()
        shown = one.seen().count("✅ Done") + two.seen().count("✅ Done")
        assert shown == 1
