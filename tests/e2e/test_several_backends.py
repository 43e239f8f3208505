"""Two backends at once (the simulator twice, under two names and two price lists): one catalog,
runs routed to either, each run recorded where it ran and costed by that backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from adapters.simulator import (
    GPU_PRICING,
    IMG2IMG_DEPLOYMENT_ID,
    TXT2IMG_DEPLOYMENT_ID,
    SimulatorServer,
)
from adapters.simulator.faults import Route
from core.errors import SendFailed
from core.journal import DeliveryJournal
from core.models import ChatRef, DeliveryState, ProgressView, RunResult, RunStatus
from tests.e2e.harness import Engine, world
from tests.fakes.attachments import BytesAttachment, png

EXPENSIVE = {gpu: price * 10 for gpu, price in GPU_PRICING.items()}


@pytest.fixture
async def second_sim() -> AsyncIterator[SimulatorServer]:
    async with SimulatorServer(
        mode="manual", webhook_backoff=(0.0, 0.0), webhook_timeout=5.0, gpu_pricing=EXPENSIVE
    ) as sim:
        yield sim


async def finish(engine: Engine, sim: SimulatorServer) -> None:
    run = await engine.last_run()
    assert run.backend_run_id is not None
    await sim.finish(run.backend_run_id)
    await engine.settle()


async def test_runs_are_routed_to_each_backend_and_costed_by_it(
    mongo_uri: str, tmp_path: Path, second_sim: SimulatorServer
) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        f"routes:\n  txt2img:\n    deployments: [{{id: 'pricey:{TXT2IMG_DEPLOYMENT_ID}'}}]\n"
        f"  img2img:\n    deployments: [{{id: 'pricey:{IMG2IMG_DEPLOYMENT_ID}'}}]\n"
        f"    fallback: ['cheap:{IMG2IMG_DEPLOYMENT_ID}']\n"
    )
    async with world(mongo_uri, tmp_path, routing_file=routing) as w:
        backends = [w.simulated(w.sim, "cheap"), w.simulated(second_sim, "pricey")]
        async with w.engine(backends=backends) as bot:
            catalog = bot.container.catalog.view
            txt2img = catalog.get("txt2img")
            assert txt2img is not None
            assert [ref.key for ref in txt2img.deployments] == [
                f"cheap:{TXT2IMG_DEPLOYMENT_ID}",
                f"pricey:{TXT2IMG_DEPLOYMENT_ID}",
            ]

            assert await bot.say("/txt2img a fox width=32 height=32") is None
            routed = await bot.last_run()
            assert (routed.backend, routed.deployment_id) == ("pricey", TXT2IMG_DEPLOYMENT_ID)
            assert len(second_sim.runs.all()) == 1 and w.sim.runs.all() == []
            await finish(bot, second_sim)
            hooks = {urlsplit(a.url).path for a in second_sim.webhooks.attempts if a.ok}
            assert hooks == {"/webhooks/pricey"}  # each backend has its own route

            w.clock.advance(1)  # media goes to the backend each deployment tried is on
            second_sim.faults.fail_next(Route.UPLOAD, 503, count=20)
            image = BytesAttachment(png((20, 20)))
            assert await bot.say("/img2img make it blue", images=[image]) is None
            own = await bot.last_run()
            assert own.backend == "cheap" and len(w.sim.runs.all()) == 1
            assert len(second_sim.runs.all()) == 1  # the txt2img run only
            assert str(own.inputs["input_image"]).startswith(w.sim.root_url)
            await finish(bot, w.sim)

            for run_id, prices in ((routed.id, EXPENSIVE), (own.id, GPU_PRICING)):
                run = await bot.container.runs_store.get(run_id)
                assert run is not None and run.status is RunStatus.SUCCESS
                assert run.gpu is not None and run.rate_usd_per_s == prices[run.gpu]
                assert run.duration_s is not None and run.duration_s > 0
                assert run.cost_usd == pytest.approx(run.rate_usd_per_s * run.duration_s, abs=2e-6)
                assert run.delivery is DeliveryState.DELIVERED
            assert bot.seen().count("✅ Done") == 2


class BlockedChat:
    """A platform whose user blocked the bot: every send is refused for good."""

    platform = "blocked"

    async def show_progress(self, view: ProgressView) -> str | None:
        raise SendFailed("bot was blocked by the user", permanent=True)

    async def post_result(self, result: RunResult, journal: DeliveryJournal) -> RunResult | None:
        raise SendFailed("bot was blocked by the user", permanent=True)

    async def end_status(self, ending: RunResult) -> None:
        raise SendFailed("bot was blocked by the user", permanent=True)


async def test_a_run_whose_delivery_is_abandoned_is_still_costed(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine(notifiers=[BlockedChat()]) as bot:
        who = ChatRef(platform="blocked", chat_id="9", user_id="9")
        assert await bot.say("/txt2img a fox width=32 height=32", who=who) is None
        await finish(bot, w.sim)
        run = await bot.last_run()
        assert run.delivery is DeliveryState.ABANDONED
        assert run.cost_usd is not None and run.cost_usd > 0
        assert await bot.container.runs_store.total_cost() == run.cost_usd


async def test_a_run_for_a_platform_nobody_serves_is_costed_when_it_ends(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        who = ChatRef(platform="discord", chat_id="1", user_id="2")
        assert await bot.say("/txt2img a fox width=32 height=32", who=who) is None
        await finish(bot, w.sim)
        run = await bot.last_run()
        assert run.status is RunStatus.SUCCESS and run.delivery is DeliveryState.PENDING
        assert run.cost_usd is not None and run.cost_usd > 0
