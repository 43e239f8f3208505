"""One workflow on two backends at once: RunComfy and a self-hosted ComfyUI behind the real
comfy-api-proxy. One catalog, runs routed by routing.yaml, a fallback when the first backend is
down or its queue is full, an unclear answer never sent elsewhere, and /stats per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.comfyapi import ComfyApiBackend
from adapters.runcomfy import RunComfyBackend, RunComfyClient
from core.models import RunStatus
from tests.e2e.comfyapi_rig import TOKEN, ComfyApiRig, followed, streaming, write_workflows
from tests.e2e.harness import Engine, world
from tests.fakes.attachments import BytesAttachment, png
from tests.fakes.comfyui_stack import ComfyApiStack
from tests.fakes.runcomfy_api import FakeRunComfy
from tests.fakes.runcomfy_catalog import IMG2IMG_DEPLOYMENT_ID, TXT2IMG_DEPLOYMENT_ID
from tests.fakes.waiting import eventually

RUNCOMFY_TXT2IMG = f"runcomfy:{TXT2IMG_DEPLOYMENT_ID}"
RUNCOMFY_IMG2IMG = f"runcomfy:{IMG2IMG_DEPLOYMENT_ID}"


@dataclass
class Two:
    rc: FakeRunComfy
    comfy: ComfyApiRig
    waits: list[float]

    def runcomfy(self) -> RunComfyBackend:
        async def record(seconds: float) -> None:
            self.waits.append(seconds)

        client = RunComfyClient(self.rc.base_url, self.rc.api_key, timeout_s=5, sleep=record)
        return RunComfyBackend(client)

    def comfyapi(self) -> ComfyApiBackend:
        return self.comfy.backend()


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[Two]:
    async with (
        FakeRunComfy(webhook_backoff=(0.0,)) as rc,
        ComfyApiStack(mode="manual", token=TOKEN) as stack,
    ):
        yield Two(rc, ComfyApiRig(stack, write_workflows(tmp_path / "workflows")), [])


def routing(tmp_path: Path, first: str, fallback: str, workflow: str = "txt2img") -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(f"routes:\n  {workflow}:\n    deployments: [{{id: '{first}'}}]\n"
                    f"    fallback: ['{fallback}']\n")  # fmt: skip
    return path


async def finish_on_comfyapi(bot: Engine, backend: ComfyApiBackend, two: Two) -> None:
    run = await bot.last_run()
    assert (run.backend, run.deployment_id) == ("comfyapi", "txt2img"), run
    await streaming(two.comfy, backend, run)
    await two.comfy.stack.comfy.finish()
    await followed(backend, run, lambda f: f.done)
    await bot.settle()


@pytest.mark.parametrize("trouble", ["down", "queue full"])
async def test_runcomfy_first_then_the_self_hosted_comfyui(
    mongo_uri: str, tmp_path: Path, two: Two, trouble: str
) -> None:
    route = routing(tmp_path, RUNCOMFY_TXT2IMG, "comfyapi:txt2img")
    async with world(mongo_uri, tmp_path, routing_file=route) as w:
        runcomfy, comfyapi = two.runcomfy(), two.comfyapi()
        async with w.engine(backends=[runcomfy, comfyapi]) as bot:
            txt2img = bot.container.catalog.view.get("txt2img")
            assert txt2img is not None and txt2img.backend == "runcomfy"
            assert [ref.key for ref in txt2img.deployments] == [
                RUNCOMFY_TXT2IMG,
                "comfyapi:txt2img",
            ]
            assert bot.container.catalog.view.get("img2img") is not None  # on both, too
            assert bot.container.catalog.view.get("broken") is not None  # comfyapi only

            if trouble == "down":
                await two.rc.stop()
            else:
                two.rc.faults.fail_next("inference", 429, count=3, retry_after=1)
            assert await bot.say("/txt2img a lighthouse steps=6") is None
            sent = await two.comfy.stack.comfy.wait_for_prompt()
            # RunComfy's inputs, written where the self-hosted graph has them.
            assert sent.graph["6"]["inputs"]["text"] == "a lighthouse"
            assert sent.graph["3"]["inputs"]["steps"] == 6
            await finish_on_comfyapi(bot, comfyapi, two)

            run = await bot.last_run()
            assert run.status is RunStatus.SUCCESS and run.cost_usd == 0.0
            assert two.rc.requests.all() == []
            assert bot.seen().count("✅ Done") == 1 and "💰 free" in bot.seen()


async def test_a_self_hosted_comfyui_that_is_down_hands_over_to_runcomfy(
    mongo_uri: str, tmp_path: Path, two: Two
) -> None:
    route = routing(tmp_path, "comfyapi:txt2img", RUNCOMFY_TXT2IMG)
    async with (
        world(mongo_uri, tmp_path, routing_file=route) as w,
        w.engine(backends=[two.comfyapi(), two.runcomfy()]) as bot,
    ):
        await two.comfy.stack.comfy.go_down()  # the proxy answers 503 upstream_unreachable
        await bot.say("/txt2img a lighthouse")
        run = await bot.last_run()
        assert (run.backend, run.deployment_id) == ("runcomfy", TXT2IMG_DEPLOYMENT_ID)
        assert run.backend_run_id is not None
        await two.rc.finish(run.backend_run_id)
        await bot.settle()
        assert (await bot.last_run()).status is RunStatus.SUCCESS
        assert two.comfy.stack.comfy.prompts == []


async def test_an_image_run_falls_back_from_a_self_hosted_comfyui_to_runcomfy(
    mongo_uri: str, tmp_path: Path, two: Two
) -> None:
    route = routing(tmp_path, "comfyapi:img2img", RUNCOMFY_IMG2IMG, "img2img")
    async with (
        world(mongo_uri, tmp_path, routing_file=route) as w,
        w.engine(backends=[two.comfyapi(), two.runcomfy()]) as bot,
    ):
        await two.comfy.stack.comfy.go_down()
        picture = png((20, 20), (200, 10, 10))
        assert await bot.say("/img2img paint it", images=[BytesAttachment(picture)]) is None
        run = await bot.last_run()
        assert (run.backend, run.deployment_id) == ("runcomfy", IMG2IMG_DEPLOYMENT_ID)
        assert run.backend_run_id is not None
        sent = two.rc.request(run.backend_run_id)
        assert sent.overrides["10"]["inputs"]["image"].startswith("data:image/png;base64,")
        assert sent.submission.media[0].data == picture
        await two.rc.finish(run.backend_run_id)
        await bot.settle()
        assert (await bot.last_run()).status is RunStatus.SUCCESS
        assert two.comfy.stack.comfy.uploads == [] and two.comfy.stack.comfy.prompts == []
        assert "image: " in bot.seen()


async def test_an_image_run_falls_back_from_runcomfy_to_a_self_hosted_comfyui(
    mongo_uri: str, tmp_path: Path, two: Two
) -> None:
    route = routing(tmp_path, RUNCOMFY_IMG2IMG, "comfyapi:img2img", "img2img")
    async with world(mongo_uri, tmp_path, routing_file=route) as w:
        comfyapi = two.comfyapi()
        async with w.engine(backends=[two.runcomfy(), comfyapi]) as bot:
            await two.rc.stop()
            picture = png((16, 16), (0, 0, 250))
            reply = await bot.say("/img2img make it blue", images=[BytesAttachment(picture)])
            assert reply is None
            (upload,) = two.comfy.stack.comfy.uploads  # uploaded where it was tried
            assert upload.data == picture
            sent = await two.comfy.stack.comfy.wait_for_prompt()
            assert sent.graph["10"]["inputs"]["image"] == f"comfybot/{upload.name}"
            run = await bot.last_run()
            assert (run.backend, run.deployment_id) == ("comfyapi", "img2img")
            assert not str(run.inputs["image"]).startswith("data:")  # recorded as it ran
            await streaming(two.comfy, comfyapi, run)
            await two.comfy.stack.comfy.finish()
            await followed(comfyapi, run, lambda f: f.done)
            await bot.settle()
            assert (await bot.last_run()).status is RunStatus.SUCCESS
            assert "image: " in bot.seen()


async def test_an_unclear_answer_is_not_sent_to_the_fallback(
    mongo_uri: str, tmp_path: Path, two: Two
) -> None:
    route = routing(tmp_path, "comfyapi:txt2img", RUNCOMFY_TXT2IMG)
    async with (
        world(mongo_uri, tmp_path, routing_file=route) as w,
        w.engine(backends=[two.comfyapi(), two.runcomfy()]) as bot,
    ):
        # ComfyUI takes the prompt but the proxy never hears back: it may run.
        two.comfy.stack.comfy.drop_next("/prompt", handled=True)
        await bot.say("/txt2img a lighthouse")
        run = await bot.last_run()
        assert run.status is RunStatus.PENDING and run.backend == "comfyapi"
        assert two.rc.requests.all() == []
        assert len(two.comfy.stack.comfy.prompts) == 1


async def test_stats_split_by_backend(mongo_uri: str, tmp_path: Path, two: Two) -> None:
    route = routing(tmp_path, RUNCOMFY_TXT2IMG, "comfyapi:txt2img")
    async with world(mongo_uri, tmp_path, routing_file=route) as w:
        comfyapi = two.comfyapi()
        async with w.engine(backends=[two.runcomfy(), comfyapi]) as bot:
            await bot.say("/txt2img on runcomfy")
            first = await bot.last_run()
            assert first.backend_run_id is not None
            await two.rc.finish(first.backend_run_id)
            await bot.settle()
            w.clock.advance(1)
            await bot.say("/img2img on comfyapi", images=[])  # no image: refused, not recorded
            await bot.say("/broken on comfyapi")
            broken = await bot.last_run()
            await streaming(two.comfy, comfyapi, broken)
            await two.comfy.stack.comfy.fail(message="Boom")
            await followed(comfyapi, broken, lambda f: f.done)
            await bot.settle()

            stats = await bot.say("/stats")
            assert stats is not None
            cost = (await bot.container.runs_store.get(first.id)).cost_usd  # type: ignore[union-attr]
            assert cost is not None and cost > 0
            assert "Runs: 2" in stats.text
            assert "  comfyapi: 1 runs, free" in stats.text
            assert f"  runcomfy: 1 runs, ${cost:.4f}" in stats.text


async def test_an_image_lost_in_a_restart_before_any_upload_is_not_replaced(
    mongo_uri: str, tmp_path: Path, two: Two
) -> None:
    """The first backend was down when the run was recorded, the run waited, and the bot
    restarted: the user's image is gone, so the run fails rather than run the graph's own."""
    route = tmp_path / "routing.yaml"
    route.write_text(
        f"routes:\n  txt2img:\n    deployments: [{{id: '{RUNCOMFY_TXT2IMG}'}}]\n"
        f"  img2img:\n    deployments: [{{id: 'comfyapi:img2img'}}]\n"
        f"    fallback: ['{RUNCOMFY_IMG2IMG}']\n"
    )
    async with world(mongo_uri, tmp_path, routing_file=route, max_running_per_user=1) as w:
        async with w.engine(backends=[two.comfyapi(), two.runcomfy()]) as first:
            await first.say("/txt2img a lighthouse")  # takes the user's one slot
            busy = await first.last_run()
            assert busy.backend == "runcomfy" and busy.backend_run_id is not None
            await two.comfy.stack.comfy.go_down()
            w.clock.advance(1)
            picture = png((16, 16), (0, 0, 250))
            await first.say("/img2img make it blue", images=[BytesAttachment(picture)])
            waiting = await first.last_run()
            assert waiting.workflow == "img2img" and waiting.status is RunStatus.PENDING
            assert "image" not in waiting.inputs  # not uploaded anywhere yet
        async with w.engine(backends=[two.comfyapi(), two.runcomfy()]) as second:
            await two.rc.finish(busy.backend_run_id)

            async def waited_no_more() -> bool:  # the freed slot goes to it on its own task
                run = await second.container.runs_store.get(waiting.id)
                return run is not None and run.status is not RunStatus.PENDING

            await eventually(waited_no_more)
            await second.settle()
            lost = await second.container.runs_store.get(waiting.id)
            assert lost is not None and lost.status is RunStatus.FAILED
            assert lost.error == "submit.unreachable"
        assert len(two.rc.requests.all()) == 1  # the txt2img run only
        assert two.comfy.stack.comfy.prompts == []
