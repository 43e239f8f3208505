"""A run from command to result, with status arriving by webhook."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from core.models import DeliveryState, RunStatus
from tests.e2e.harness import world


async def test_run_is_delivered_once_via_webhooks(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        reply = await bot.say("/txt2img a red fox, watercolor seed=7 width=64 height=48")
        assert reply is None
        run = await bot.last_run()
        assert run.status is RunStatus.NOT_STARTED
        assert run.inputs == {
            "prompt": "a red fox, watercolor",
            "seed": 7,
            "width": 64,
            "height": 48,
        }
        assert run.backend_run_id is not None

        await w.sim.finish(run.backend_run_id)
        await bot.settle()

        seen = bot.seen()
        assert seen.count("✅ Done") == 1
        assert "⚙️ Running" in seen
        stored = await bot.container.runs_store.get(run.id)
        assert stored is not None
        assert stored.status is RunStatus.SUCCESS
        assert stored.delivery is DeliveryState.DELIVERED
        assert stored.cost_usd is not None and stored.cost_usd > 0
        saved = [line.split("image: ", 1)[1] for line in seen.splitlines() if "image: " in line]
        assert len(saved) == 1
        with Image.open(saved[0]) as image:
            assert image.size == (64, 48)
        # Every webhook the simulator sent was taken.
        assert all(a.status == 200 for a in w.sim.webhooks.attempts)
