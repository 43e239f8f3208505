"""RunComfy end to end: a chat command, comfybot's backend, the fake RunComfy Serverless API
with its webhooks, and the image back in the chat. Requests move only when the test moves them
(`advance`/`finish` return once their webhooks were handled); polls happen on the fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr

from adapters.runcomfy import RunComfyBackend, RunComfyClient
from bot.backends import runcomfy_backends
from core.models import DeliveryState, RunStatus
from tests.e2e.harness import Engine, World, world
from tests.fakes.attachments import BytesAttachment, png
from tests.fakes.runcomfy_api import FakeRunComfy
from tests.fakes.runcomfy_catalog import HARDWARE, IMG2IMG_DEPLOYMENT_ID, TXT2IMG_DEPLOYMENT_ID


class Rig:
    def __init__(self, rc: FakeRunComfy) -> None:
        self.rc = rc
        self.waits: list[float] = []

    async def _sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    def backend(self, name: str = "runcomfy") -> RunComfyBackend:
        client = RunComfyClient(self.rc.base_url, self.rc.api_key, timeout_s=5, sleep=self._sleep)
        return RunComfyBackend(client, name=name)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with FakeRunComfy(webhook_backoff=(0.0,), webhook_tries=8) as rc:
        yield Rig(rc)


async def started(bot: Engine, rig: Rig, line: str, **kw: object) -> str:
    """Say `line`; the RunComfy request id of the run it started (its webhooks handled)."""
    assert await bot.say(line, **kw) is None  # type: ignore[arg-type]
    run = await bot.last_run()
    assert run.backend_run_id is not None, run
    await rig.rc.drain_webhooks()
    await bot.settle()
    return run.backend_run_id


async def poll(w: World, bot: Engine) -> int:
    w.clock.advance(w.settings.poll_after_seconds + 1)
    polled = await bot.container.watch.poll_due()
    await bot.settle()
    return polled


async def test_a_prompt_becomes_an_image_in_the_chat(
    mongo_uri: str, tmp_path: Path, rig: Rig
) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[rig.backend()]) as bot:
        rid = await started(bot, rig, "/txt2img a cabin in the snow steps=8")
        sent = rig.rc.request(rid)
        assert sent.overrides["6"] == {"inputs": {"text": "a cabin in the snow"}}
        assert sent.overrides["3"]["inputs"]["steps"] == 8
        assert isinstance(sent.overrides["3"]["inputs"]["seed"], int)  # drawn for the run
        assert sent.query["webhook_intermediate_status"] == "true"
        assert "/webhooks/runcomfy?run=" in (sent.webhook or "")

        await rig.rc.advance(rid)
        await bot.settle()
        assert "⚙️ Running · txt2img" in bot.seen()
        await rig.rc.finish(rid)
        await bot.settle()

        run = await bot.last_run()
        assert run.status is RunStatus.SUCCESS and run.delivery is DeliveryState.DELIVERED
        assert run.gpu == "AMPERE_24"
        assert run.rate_usd_per_s == pytest.approx(HARDWARE["AMPERE_24"].usd_per_second)
        assert run.duration_s is not None and run.cost_usd is not None
        assert run.cost_usd == pytest.approx(run.rate_usd_per_s * run.duration_s, abs=2e-6)
        assert bot.seen().count("✅ Done · txt2img") == 1
        saved = next(line for line in bot.seen().splitlines() if "image: " in line)
        path = Path(saved.split("image: ")[1].strip())
        assert await asyncio.to_thread(path.read_bytes) == rig.rc.output_bytes(rid)[0]


async def test_an_attached_image_goes_inline(mongo_uri: str, tmp_path: Path, rig: Rig) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[rig.backend()]) as bot:
        picture = png((24, 24), (10, 200, 10))
        rid = await started(bot, rig, "/img2img paint it", images=[BytesAttachment(picture)])
        sent = rig.rc.request(rid)
        assert sent.deployment_id == IMG2IMG_DEPLOYMENT_ID
        assert sent.overrides["10"]["inputs"]["image"].startswith("data:image/png;base64,")
        assert sent.submission.media[0].data == picture
        await rig.rc.finish(rid)
        await bot.settle()
        assert (await bot.last_run()).status is RunStatus.SUCCESS
        assert rig.rc.fetched == []  # nothing to download: the image came inline
        assert "image: " in bot.seen()


async def test_a_queued_request_is_cancelled_from_the_chat(
    mongo_uri: str, tmp_path: Path, rig: Rig
) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[rig.backend()]) as bot:
        rid = await started(bot, rig, "/txt2img a fox")
        run = await bot.last_run()
        reply = await bot.say(f"/cancel {run.id}")
        assert reply is not None and "Cancelled" in reply.text
        await rig.rc.drain_webhooks()
        await bot.settle()
        assert rig.rc.request(rid).phase == "cancelled"
        assert (await bot.last_run()).status is RunStatus.CANCELLED
        assert bot.seen().count("🚫 Cancelled") == 1


async def test_a_failure_is_shown_in_the_backends_words(
    mongo_uri: str, tmp_path: Path, rig: Rig
) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[rig.backend()]) as bot:
        rid = await started(bot, rig, "/txt2img a fox")
        await rig.rc.advance(rid)
        await rig.rc.fail(rid, "Out of memory in KSampler")
        await bot.settle()
        run = await bot.last_run()
        assert run.status is RunStatus.FAILED and run.error == "Out of memory in KSampler"
        assert "❌ Failed · txt2img" in bot.seen()
        assert "Out of memory in KSampler" in bot.seen()


async def test_dropped_webhooks_are_made_up_for_by_polling(
    mongo_uri: str, tmp_path: Path, rig: Rig
) -> None:
    rig.rc.webhooks.drop()
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[rig.backend()]) as bot:
        rid = await started(bot, rig, "/txt2img a quiet harbour")
        await rig.rc.finish(rid)
        await bot.settle()
        assert (await bot.last_run()).status is RunStatus.NOT_STARTED
        assert await poll(w, bot) == 1
        run = await bot.last_run()
        assert run.status is RunStatus.SUCCESS
        assert bot.seen().count("✅ Done") == 1 and "image: " in bot.seen()


async def test_duplicated_and_late_webhooks_change_nothing(
    mongo_uri: str, tmp_path: Path, rig: Rig
) -> None:
    rig.rc.webhooks.duplicate(status="succeeded")
    rig.rc.webhooks.defer(status="in_progress")
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[rig.backend()]) as bot:
        rid = await started(bot, rig, "/txt2img a fox")
        await rig.rc.advance(rid)  # its webhook is held back until after the end
        await rig.rc.finish(rid)
        await bot.settle()
        delivered = [b["status"] for b in rig.rc.webhooks.delivered(rid)]
        assert delivered[-3:] == ["succeeded", "succeeded", "in_progress"]
        run = await bot.last_run()
        assert run.status is RunStatus.SUCCESS
        assert bot.seen().count("✅ Done") == 1


async def test_a_cold_start_is_shown_as_such(mongo_uri: str, tmp_path: Path, rig: Rig) -> None:
    rig.rc.cold_start(TXT2IMG_DEPLOYMENT_ID)
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[rig.backend()]) as bot:
        rid = await started(bot, rig, "/txt2img a fox")
        assert "cold start" not in bot.seen()  # just queued: nothing to explain yet
        await rig.rc.advance(rid)
        assert rig.rc.request(rid).phase == "in_queue"  # no instance yet
        assert await poll(w, bot) == 1
        assert "Starting a GPU machine (cold start, can take a few minutes)" in bot.seen()
        assert "❌" not in bot.seen() and "⌛" not in bot.seen()

        rig.rc.instance_ready(TXT2IMG_DEPLOYMENT_ID)
        await rig.rc.advance(rid)
        await bot.settle()
        last_progress = bot.seen().splitlines()[-1]
        assert "⚙️ Running" in last_progress and "cold start" not in last_progress
        await rig.rc.finish(rid)
        await bot.settle()
        assert (await bot.last_run()).status is RunStatus.SUCCESS


async def test_a_429_is_waited_out_as_retry_after_says(
    mongo_uri: str, tmp_path: Path, rig: Rig
) -> None:
    rig.rc.faults.fail_next("inference", 429, retry_after=2)
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[rig.backend()]) as bot:
        rid = await started(bot, rig, "/txt2img a fox")
        assert rig.waits == [2.0]
        assert len(rig.rc.requests.all()) == 1 and rig.rc.request(rid).phase == "in_queue"


async def test_a_backend_that_stays_busy_or_broke_is_said_in_plain_words(
    mongo_uri: str, tmp_path: Path, rig: Rig
) -> None:
    rig.rc.faults.fail_next("inference", 429, count=3, retry_after=1)
    rig.rc.deployments[IMG2IMG_DEPLOYMENT_ID].gating_error = (10001, "InsufficientFunds")
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[rig.backend()]) as bot:
        await bot.say("/txt2img a fox")
        busy = await bot.last_run()
        assert busy.status is RunStatus.FAILED and busy.error == "submit.busy"
        assert "the GPU service is busy (its queue is full)" in bot.seen()
        assert rig.waits == [1.0, 1.0]

        w.clock.advance(1)
        await bot.say("/img2img paint it", images=[BytesAttachment(png())])
        broke = await bot.last_run()
        assert broke.status is RunStatus.FAILED and broke.error == "submit.no_credits"
        assert "the GPU service account is out of credits" in bot.seen()
        assert rig.rc.requests.all() == []
        assert rig.rc.api_key not in bot.seen()


async def test_a_request_whose_answer_was_lost_is_adopted_from_its_callback(
    mongo_uri: str, tmp_path: Path, rig: Rig
) -> None:
    client = RunComfyClient(rig.rc.base_url, rig.rc.api_key, timeout_s=0.3)
    async with (
        world(mongo_uri, tmp_path) as w,
        w.engine(backends=[RunComfyBackend(client)]) as bot,
    ):
        gate = rig.rc.faults.hold("inference")  # the request is taken after we stopped waiting
        await bot.say("/txt2img a fox")
        run = await bot.last_run()
        assert run.status is RunStatus.PENDING and run.backend_run_id is None
        gate.set()
        await rig.rc.faults.wait_held("inference", 0)
        rid = await _queued(rig)
        await rig.rc.drain_webhooks()  # its callback names the request RunComfy made for us
        await bot.settle()
        adopted = await bot.last_run()
        assert adopted.backend_run_id == rid and adopted.status is RunStatus.QUEUED
        await rig.rc.finish(rid)
        await bot.settle()
        assert (await bot.last_run()).status is RunStatus.SUCCESS
        assert len(rig.rc.requests.all()) == 1 and bot.seen().count("✅ Done") == 1


async def _queued(rig: Rig) -> str:
    """The id of the one request the fake took (waiting until it took it)."""
    for _ in range(1000):
        requests = rig.rc.requests.all()
        if requests:
            return requests[0].id
        await asyncio.sleep(0)
    raise AssertionError("the fake never took the request")


async def test_runcomfy_deployments_limits_the_catalog_to_those_deployments(
    mongo_uri: str, tmp_path: Path, rig: Rig
) -> None:
    async with world(mongo_uri, tmp_path) as w:
        settings = w.settings.model_copy(
            update={
                "runcomfy_api_url": rig.rc.base_url,
                "runcomfy_api_token": SecretStr(rig.rc.api_key),
                "runcomfy_deployments": (TXT2IMG_DEPLOYMENT_ID,),
            }
        )
        (backend,) = runcomfy_backends(settings, None)
        found = await backend.discover()
        assert [d.id for d in found.deployments] == [TXT2IMG_DEPLOYMENT_ID]
        async with w.engine(backends=[backend]) as bot:
            listing = await bot.say("/workflows")
            assert listing is not None
            assert "/txt2img" in listing.text and "/img2img" not in listing.text
            await started(bot, rig, "/txt2img a cabin")
            assert rig.rc.requests.all()[0].deployment_id == TXT2IMG_DEPLOYMENT_ID


@pytest.fixture
async def picture_host() -> AsyncIterator[str]:
    """A web server with one picture on it: its URL."""
    picture = png((18, 18), (240, 120, 0))

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=picture, content_type="image/png")

    app = web.Application()
    app.router.add_get("/cat.png", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/cat.png"
    finally:
        await runner.cleanup()


async def test_an_image_given_as_a_link_is_passed_as_it_is(
    mongo_uri: str, tmp_path: Path, rig: Rig, picture_host: str
) -> None:
    url = picture_host
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[rig.backend()]) as bot:
        rid = await started(bot, rig, f"/img2img paint it image={url}")
        sent = rig.rc.request(rid)
        assert sent.overrides["10"]["inputs"]["image"] == url  # no upload, no data URI
        await rig.rc.finish(rid)
        await bot.settle()
        assert (await bot.last_run()).status is RunStatus.SUCCESS
        assert [f.url for f in rig.rc.fetched] == [url]  # RunComfy fetched it itself
        assert "image: " in bot.seen()
