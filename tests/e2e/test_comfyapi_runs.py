"""Comfy API v2 end to end: a chat command, comfybot's backend, the real comfy-api-proxy, the
fake ComfyUI behind it, and the image back in the chat. ComfyUI is stepped by hand; the event
stream is awaited (`followed`), polls happen when the fake clock says so."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from core.models import DeliveryState, RunStatus
from tests.e2e.comfyapi_rig import TOKEN, ComfyApiRig, followed, streaming, write_workflows
from tests.e2e.harness import world
from tests.fakes.attachments import BytesAttachment, png
from tests.fakes.comfyui_files import colour_for
from tests.fakes.comfyui_graphs import txt2img
from tests.fakes.comfyui_stack import ComfyApiStack
from tests.fakes.waiting import eventually


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[ComfyApiRig]:
    async with ComfyApiStack(mode="manual", token=TOKEN) as stack:
        yield ComfyApiRig(stack, write_workflows(tmp_path / "workflows"))


async def test_a_prompt_becomes_an_image_in_the_chat(
    mongo_uri: str, tmp_path: Path, rig: ComfyApiRig
) -> None:
    backend = rig.backend()
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[backend]) as bot:
        listing = await bot.say("/workflows")
        assert listing is not None
        assert "/txt2img" in listing.text and "/img2img" in listing.text
        assert "(needs an image" in listing.text.split("/img2img")[1].split("\n")[0]

        assert await bot.say("/txt2img a red fox steps=3 seed=5") is None
        run = await bot.last_run()
        assert (run.backend, run.deployment_id) == ("comfyapi", "txt2img")
        sent = await rig.stack.comfy.wait_for_prompt()
        assert sent.graph["6"]["inputs"]["text"] == "a red fox"
        assert sent.graph["7"]["inputs"]["text"] == "blurry"  # the graph's own value
        assert (sent.graph["3"]["inputs"]["steps"], sent.graph["3"]["inputs"]["seed"]) == (3, 5)
        # The job was created under our label, with our run in its idempotency key.
        assert rig.stack.comfy.prompts[0].prompt_id == run.backend_run_id
        await streaming(rig, backend, run)

        async def drawn_queued() -> bool:  # the stream's first state reaches the chat through
            await bot.settle()  # ingress and the delivery's progress queue, on their own tasks
            return "⏳ Queued" in bot.seen()

        await eventually(drawn_queued)

        await rig.stack.comfy.step()
        await rig.stack.comfy.step()
        await followed(backend, run, lambda f: f.last is not None and f.last.progress is not None)
        await bot.settle()
        assert "⚙️ Running" in bot.seen()
        await rig.stack.comfy.finish()
        await followed(backend, run, lambda f: f.done)
        await bot.settle()

        done = await bot.last_run()
        assert done.status is RunStatus.SUCCESS and done.delivery is DeliveryState.DELIVERED
        assert done.cost_usd == 0.0
        assert "✅ Done · txt2img" in bot.seen() and "💰 free" in bot.seen()
        saved = next(line for line in bot.seen().splitlines() if "image: " in line)
        picture = Image.open(Path(saved.split("image: ")[1].strip()))
        assert picture.getpixel((1, 1)) == colour_for(5, "a red fox")
        assert len(rig.stack.comfy.prompts) == 1


async def test_an_attached_image_is_uploaded_as_an_asset(
    mongo_uri: str, tmp_path: Path, rig: ComfyApiRig
) -> None:
    backend = rig.backend()
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[backend]) as bot:
        picture = png((16, 16), (0, 0, 250))
        reply = await bot.say("/img2img make it blue", images=[BytesAttachment(picture)])
        assert reply is None
        (upload,) = rig.stack.comfy.uploads
        assert upload.data == picture and upload.subfolder == "comfybot"
        sent = await rig.stack.comfy.wait_for_prompt()
        assert sent.graph["10"]["inputs"]["image"] == f"comfybot/{upload.name}"
        run = await bot.last_run()
        await streaming(rig, backend, run)
        await rig.stack.comfy.finish()
        await followed(backend, run, lambda f: f.done)
        await bot.settle()
        done = await bot.last_run()
        assert done.status is RunStatus.SUCCESS
        assert "image: " in bot.seen()


async def test_a_running_job_is_cancelled_from_the_chat(
    mongo_uri: str, tmp_path: Path, rig: ComfyApiRig
) -> None:
    backend = rig.backend()
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[backend]) as bot:
        await bot.say("/txt2img a slow fox")
        run = await bot.last_run()
        await streaming(rig, backend, run)
        await rig.stack.comfy.step()
        await rig.stack.comfy.step()
        reply = await bot.say(f"/cancel {run.id}")
        assert reply is not None and "Cancelled" in reply.text
        assert rig.stack.comfy.current is not None
        assert rig.stack.comfy.current.interrupt_requested
        assert (await rig.stack.comfy.step()).kind == "interrupted"
        await followed(backend, run, lambda f: f.done)
        await bot.settle()
        stored = await bot.last_run()
        assert stored.status is RunStatus.CANCELLED
        assert bot.seen().count("🚫 Cancelled") == 1


async def test_an_execution_error_is_shown_in_the_backends_words(
    mongo_uri: str, tmp_path: Path, rig: ComfyApiRig
) -> None:
    backend = rig.backend()
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[backend]) as bot:
        await bot.say("/broken a fox")
        run = await bot.last_run()
        await streaming(rig, backend, run)
        await rig.stack.comfy.fail(node_id="3", message="CUDA out of memory")
        await followed(backend, run, lambda f: f.done)
        await bot.settle()
        stored = await bot.last_run()
        assert stored.status is RunStatus.FAILED
        assert stored.error == "CUDA out of memory (KSampler)"
        assert "❌ Failed · broken" in bot.seen()
        assert "CUDA out of memory (KSampler)" in bot.seen()


async def test_a_lost_event_stream_is_recovered_by_polling(
    mongo_uri: str, tmp_path: Path, rig: ComfyApiRig
) -> None:
    backend = rig.backend()
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[backend]) as bot:
        await bot.say("/txt2img a harbour at night")
        run = await bot.last_run()
        await streaming(rig, backend, run)
        await rig.stack.comfy.step()
        # ComfyUI goes away: the proxy ends the stream, and the job cannot be read.
        await rig.stack.comfy.go_down()
        await followed(backend, run, lambda f: f.done)
        await rig.stack.comfy.come_up(keep_state=True)
        await rig.stack.comfy.finish()
        await bot.settle()
        assert (await bot.last_run()).status is not RunStatus.SUCCESS

        w.clock.advance(w.settings.poll_after_seconds + 1)
        assert await bot.container.watch.poll_due() == 1
        await bot.settle()
        stored = await bot.last_run()
        assert stored.status is RunStatus.SUCCESS
        assert bot.seen().count("✅ Done") == 1 and "image: " in bot.seen()


async def test_a_comfyui_restart_mid_run_is_told_plainly(
    mongo_uri: str, tmp_path: Path, rig: ComfyApiRig
) -> None:
    backend = rig.backend()
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[backend]) as bot:
        await bot.say("/txt2img a comet")
        run = await bot.last_run()
        await streaming(rig, backend, run)
        await rig.stack.comfy.step()
        await rig.stack.comfy.restart()  # a fresh ComfyUI: the running prompt is gone
        await followed(backend, run, lambda f: f.done)
        await bot.settle()
        stored = await bot.last_run()
        assert stored.status is RunStatus.FAILED and stored.error == "run.lost"
        assert "The backend no longer knows this run." in bot.seen()


async def test_a_bot_restart_mid_run_follows_the_job_again(
    mongo_uri: str, tmp_path: Path, rig: ComfyApiRig
) -> None:
    async with world(mongo_uri, tmp_path) as w:
        first_backend = rig.backend()
        async with w.engine(backends=[first_backend]) as first:
            await first.say("/txt2img a phoenix")
            run = await first.last_run()
            await streaming(rig, first_backend, run)
            await rig.stack.comfy.step()
        # The bot is down while ComfyUI works on; the next process polls the job at start
        # and follows its stream again (found by the label it was created with).
        await rig.stack.comfy.step()
        second_backend = rig.backend()
        async with w.engine(backends=[second_backend]) as second:
            assert run.backend_run_id in second_backend.streams.followed
            await streaming(rig, second_backend, run, sockets=2)
            await rig.stack.comfy.finish()
            await followed(second_backend, run, lambda f: f.done)
            await second.settle()
            stored = await second.container.runs_store.get(run.id)
            assert stored is not None and stored.status is RunStatus.SUCCESS
            assert stored.delivery is DeliveryState.DELIVERED
            assert second.seen().count("✅ Done") == 1
        assert "✅ Done" not in first.seen()
        assert len(rig.stack.comfy.prompts) == 1


async def test_outputs_are_fetched_with_the_token_from_the_api_only(
    mongo_uri: str, tmp_path: Path, rig: ComfyApiRig
) -> None:
    backend = rig.backend()
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[backend]) as bot:
        await bot.say("/txt2img a lantern")
        run = await bot.last_run()
        await streaming(rig, backend, run)
        await rig.stack.comfy.finish()
        await followed(backend, run, lambda f: f.done)
        await bot.settle()
        stored = await bot.last_run()
        (output,) = stored.outputs
        assert output.url is not None and output.url.startswith(rig.stack.api_url)
        size = await backend.download(output.url, tmp_path / "again.png", 10_000_000)
        data = await asyncio.to_thread((tmp_path / "again.png").read_bytes)
        assert size == len(data) and Image.open(io.BytesIO(data)).format == "PNG"


async def test_a_catalog_binding_writes_into_the_graph_comfyui_receives(
    mongo_uri: str, tmp_path: Path, rig: ComfyApiRig
) -> None:
    graph = txt2img()
    graph["12"] = {
        "class_type": "PrimitiveString",
        "inputs": {"value": "blurry"},
        "_meta": {"title": "Negative words"},
    }
    graph["7"]["inputs"]["text"] = ["12", 0]  # the negative prompt comes from the primitive
    (rig.folder / "styled.json").write_text(json.dumps(graph))
    catalog = tmp_path / "workflows.catalog.yaml"
    catalog.write_text(
        "workflows:\n  styled:\n    inputs:\n      avoid:\n        type: text\n"
        "        bind: [{node_id: '12', field: value}]\n"
    )
    backend = rig.backend()
    async with (
        world(mongo_uri, tmp_path, catalog_file=catalog) as w,
        w.engine(backends=[backend]) as bot,
    ):
        assert await bot.say("/styled a red fox avoid=grainy") is None
        sent = await rig.stack.comfy.wait_for_prompt()
        assert sent.graph["12"]["inputs"]["value"] == "grainy"  # the bound input's value
        assert sent.graph["7"]["inputs"]["text"] == ["12", 0]  # the link left as it was
        assert sent.graph["6"]["inputs"]["text"] == "a red fox"
        assert (await bot.last_run()).inputs["avoid"] == "grainy"


@pytest.mark.parametrize("rate", [0.001, None])
async def test_a_priced_comfy_api_costs_its_rate_per_second(
    mongo_uri: str, tmp_path: Path, rig: ComfyApiRig, rate: float | None
) -> None:
    """COMFY_USD_PER_SECOND=0.001 bills the run's seconds; unset for Comfy's cloud, the cost
    is unknown and shown so (n/a), never as free."""
    backend = rig.backend(rate=rate)
    async with (
        world(mongo_uri, tmp_path, credits_enabled=False) as w,
        w.engine(backends=[backend]) as bot,
    ):
        assert await bot.say("/txt2img a red fox") is None
        run = await bot.last_run()
        await streaming(rig, backend, run)
        await bot.settle()
        w.clock.advance(30)
        await rig.stack.comfy.finish()
        await followed(backend, run, lambda f: f.done)
        await bot.settle()

        done = await bot.last_run()
        assert done.status is RunStatus.SUCCESS and done.rate_usd_per_s == rate
        assert done.duration_s is not None and done.duration_s >= 30
        assert "💰 free" not in bot.seen()
        if rate is None:
            assert done.cost_usd is None
            assert "⏱ 30.0s · 💰 n/a" in bot.seen()
        else:
            assert done.cost_usd == pytest.approx(rate * done.duration_s, abs=2e-6)
            assert f"⏱ 30.0s · 💰 ${done.cost_usd:.4f}" in bot.seen()
            assert "💰 $0.0300" in bot.seen()
