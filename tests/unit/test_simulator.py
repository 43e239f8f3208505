"""The ComfyDeploy simulator, checked from the outside over real sockets with plain aiohttp."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from adapters.simulator import (
    GPU_PRICING,
    IMG2IMG_DEPLOYMENT_ID,
    TXT2IMG_DEPLOYMENT_ID,
    UPSCALE_DEPLOYMENT_ID,
    Route,
    SimulatorServer,
)

AUTH = {"Authorization": "Bearer sim-key"}
TERMINAL = {"success", "failed", "timeout", "cancelled"}
INPUT_FIELDS = {
    "type",
    "class_type",
    "input_id",
    "default_value",
    "min_value",
    "max_value",
    "display_name",
    "description",
    "enum_options",
    "step",
}
CANCEL_ERROR = "Error cancel function 404: Run not found or has no modal function call ID"
Json = dict[str, Any]


class Receiver:
    """A tiny webhook endpoint: records bodies, answers with queued statuses (then 200)."""

    def __init__(self) -> None:
        self.bodies: list[Json] = []
        self.headers: list[dict[str, str]] = []
        self.replies: list[int] = []
        self.terminal = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        self.headers.append(dict(request.headers))
        status = self.replies.pop(0) if self.replies else 200
        if status == 200 and body["status"] in TERMINAL:
            self.terminal.set()
        return web.json_response({"message": "success"}, status=status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def statuses(self, event_type: str = "run.updated") -> list[str]:
        return [b["status"] for b in self.bodies if b["event_type"] == event_type]


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    server = SimulatorServer(webhook_backoff=(0.0, 0.0))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(headers=AUTH, timeout=timeout) as session:
        yield session


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    yield hook
    await hook.stop()


async def queue(
    sim: SimulatorServer,
    client: aiohttp.ClientSession,
    deployment_id: str = TXT2IMG_DEPLOYMENT_ID,
    **body: Any,
) -> str:
    payload = {"deployment_id": deployment_id, **body}
    async with client.post(f"{sim.base_url}/run/deployment/queue", json=payload) as response:
        assert response.status == 200
        reply = await response.json()
    assert set(reply) == {"run_id"}
    return str(reply["run_id"])


async def get_run(sim: SimulatorServer, client: aiohttp.ClientSession, run_id: str) -> Json:
    async with client.get(f"{sim.base_url}/run/{run_id}") as response:
        assert response.status == 200
        run: Json = await response.json()
        return run


async def fetch_png(url: str) -> Image.Image:
    async with aiohttp.ClientSession() as anonymous, anonymous.get(url) as response:
        assert response.status == 200
        assert response.content_type == "image/png"
        data = await response.read()
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_bytes(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_auth_is_required_except_for_gpu_pricing(sim: SimulatorServer) -> None:
    async with aiohttp.ClientSession() as anonymous:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            async with anonymous.get(f"{sim.base_url}/deployments", headers=headers) as response:
                assert response.status == 401
                assert await response.json() == {"detail": "Invalid or missing token"}
        async with anonymous.get(f"{sim.base_url}/platform/gpu-pricing") as response:
            assert response.status == 200
            assert await response.json() == GPU_PRICING
        assert GPU_PRICING["A10G"] == 0.000337


async def test_deployment_listings_split_by_is_fluid(
    sim: SimulatorServer, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{sim.base_url}/deployments?is_fluid=false") as response:
        classic = await response.json()
    async with client.get(f"{sim.base_url}/deployments", params={"is_fluid": "true"}) as response:
        fluid = await response.json()
    assert [d["id"] for d in classic] == [TXT2IMG_DEPLOYMENT_ID, IMG2IMG_DEPLOYMENT_ID]
    assert [d["id"] for d in fluid] == [UPSCALE_DEPLOYMENT_ID]
    assert all(d["modal_image_id"] is None for d in classic)
    assert fluid[0]["modal_image_id"]
    txt2img = classic[0]
    assert txt2img["workflow"]["name"] == "txt2img"
    assert set(txt2img["workflow"]) == {"id", "name", "cover_url"}
    assert txt2img["gpu"] == "A10G" and txt2img["environment"] == "production"
    assert all(set(i) == INPUT_FIELDS for i in txt2img["input_types"])
    by_id = {i["input_id"]: i for i in txt2img["input_types"]}
    assert list(by_id) == [
        "prompt",
        "negative",
        "seed",
        "steps",
        "cfg",
        "width",
        "height",
        "batch_size",
        "style",
        "hires",
    ]
    assert by_id["steps"]["class_type"] == "ComfyUIDeployExternalNumberSliderInt"
    assert (by_id["steps"]["min_value"], by_id["steps"]["max_value"]) == (1, 50)
    assert by_id["cfg"]["type"] == "float" and by_id["seed"]["type"] == "integer"
    assert by_id["style"]["enum_options"] == ["none", "watercolor", "photo", "anime"]
    assert by_id["hires"] == by_id["hires"] | {"type": "boolean", "default_value": False}
    image_input = classic[1]["input_types"][0]
    assert image_input["class_type"] == "ComfyUIDeployExternalImage"
    assert image_input["default_value"] == ""
    async with client.get(f"{sim.base_url}/deployment/{UPSCALE_DEPLOYMENT_ID}") as response:
        assert (await response.json())["gpu"] == "T4"
    async with client.get(f"{sim.base_url}/deployment/{'0' * 8}-0000-0000-0000-{'0' * 12}") as r:
        assert r.status == 500
        assert await r.json() == {"detail": "Internal server error"}


async def test_machines_carry_gpus(sim: SimulatorServer, client: aiohttp.ClientSession) -> None:
    async with client.get(f"{sim.base_url}/machines") as response:
        machines = await response.json()
    assert sorted(m["gpu"] for m in machines) == ["A10G", "L4", "T4"]
    assert not machines[0]["created_at"].endswith("Z")
    async with client.get(f"{sim.base_url}/machine/{machines[1]['id']}") as response:
        machine = await response.json()
    assert machine["gpu"] == machines[1]["gpu"] and machine["run_timeout"] == 300


async def test_queue_validation_errors(
    sim: SimulatorServer, client: aiohttp.ClientSession
) -> None:
    url = f"{sim.base_url}/run/deployment/queue"
    async with client.post(url, json={"deployment_id": "not-a-uuid"}) as response:
        assert response.status == 422
        [error] = (await response.json())["detail"]
        assert error["loc"] == ["body", "deployment_id"] and error["type"] == "uuid_parsing"
    async with client.post(url, json={"inputs": {}}) as response:
        assert response.status == 422
        [error] = (await response.json())["detail"]
        assert (error["type"], error["loc"]) == ("missing", ["body", "deployment_id"])
    for bad in (None, {"nested": 1}):
        body = {"deployment_id": TXT2IMG_DEPLOYMENT_ID, "inputs": {"prompt": bad}}
        async with client.post(url, json=body) as response:
            assert response.status == 422
            detail = (await response.json())["detail"]
            assert all(e["loc"][:3] == ["body", "inputs", "prompt"] for e in detail)
    unknown = {"deployment_id": "15e79589-12c9-453c-a41a-348fdd7de957"}
    async with client.post(url, json=unknown) as response:
        assert response.status == 404
        assert await response.json() == {"detail": "Deployment not found"}


async def test_get_run_states_and_errors(
    sim: SimulatorServer, client: aiohttp.ClientSession
) -> None:
    first = await queue(sim, client, inputs={"prompt": "a"})
    second = await queue(sim, client, inputs={"prompt": "b"}, gpu="H100")
    run = await get_run(sim, client, second)
    assert run["status"] == "not-started" and run["queue_position"] is None
    assert run["gpu"] == "A10G"  # the deployment's own gpu wins
    assert run["created_at"].endswith("Z") and run["queued_at"] is None
    assert run["workflow_inputs"] == {"prompt": "b"} and run["outputs"] == []
    async with client.get(f"{sim.base_url}/run/{second}?queue_position=true") as response:
        assert (await response.json())["queue_position"] == 1
    assert await sim.advance(first) == "queued"
    assert await sim.advance(first) == "started"
    async with client.get(f"{sim.base_url}/run/{second}?queue_position=true") as response:
        assert (await response.json())["queue_position"] == 0
    async with client.get(f"{sim.base_url}/run/{first}?queue_position=true") as response:
        started = await response.json()
    assert started["queue_position"] is None and started["cold_start_duration"] is not None
    async with client.get(f"{sim.base_url}/run/not-a-uuid") as response:
        assert response.status == 422
        assert (await response.json())["detail"][0]["loc"] == ["path", "run_id"]
    async with client.get(f"{sim.base_url}/run/15e79589-12c9-453c-a41a-348fdd7de957") as r:
        assert r.status == 404
        assert await r.json() == {"detail": "Run not found"}


async def test_run_to_success_yields_deterministic_pngs(
    sim: SimulatorServer, client: aiohttp.ClientSession
) -> None:
    inputs = {"prompt": "a red fox", "seed": 42, "width": 64, "height": 48, "batch_size": 2}
    run_id = await queue(sim, client, inputs=inputs)
    assert await sim.finish(run_id) == "success"
    run = await get_run(sim, client, run_id)
    assert run["status"] == "success" and run["progress"] == 1.0
    assert run["live_status"] == "Executing SaveImage"
    for key in ("queued_at", "started_at", "ended_at"):
        assert run[key].endswith("Z")
    for key in ("duration", "cold_start_duration", "cold_start_duration_total", "run_duration"):
        assert isinstance(run[key], float)
    [output] = run["outputs"]
    assert output["node_meta"] == {"node_id": "9", "node_class": "SaveImage"}
    items = output["data"]["images"]
    assert [i["filename"] for i in items] == ["ComfyUI_00001_.png", "ComfyUI_00002_.png"]
    assert all(i["type"] == "output" and i["subfolder"] == "" and i["is_public"] for i in items)
    first = await fetch_png(items[0]["url"])
    second = await fetch_png(items[1]["url"])
    assert first.size == (64, 48) and first.tobytes() != second.tobytes()
    again = await queue(sim, client, inputs=inputs)
    await sim.finish(again)
    repeat = (await get_run(sim, client, again))["outputs"][0]["data"]["images"][0]["url"]
    assert (await fetch_png(repeat)).tobytes() == first.tobytes()


async def test_large_output_is_over_ten_megabytes(
    sim: SimulatorServer, client: aiohttp.ClientSession
) -> None:
    run_id = await queue(sim, client, inputs={"prompt": "big", "width": 2048, "height": 2048})
    await sim.finish(run_id)
    url = (await get_run(sim, client, run_id))["outputs"][0]["data"]["images"][0]["url"]
    async with client.get(url) as response:
        assert len(await response.read()) > 10 * 1024 * 1024


async def test_fail_and_timeout_prompts(
    sim: SimulatorServer, client: aiohttp.ClientSession
) -> None:
    failing = await queue(sim, client, inputs={"prompt": "please FAIL now"})
    slow = await queue(sim, client, inputs={"prompt": "TIMEOUT"})
    await sim.finish_all()
    failed = await get_run(sim, client, failing)
    assert failed["status"] == "failed" and failed["outputs"] == []
    assert failed["ended_at"] is not None
    assert (await get_run(sim, client, slow))["status"] == "timeout"


async def test_cancel(
    sim: SimulatorServer, client: aiohttp.ClientSession, receiver: Receiver
) -> None:
    run_id = await queue(sim, client, webhook=receiver.url)
    await sim.advance(run_id)
    async with client.post(f"{sim.base_url}/run/{run_id}/cancel") as response:
        assert response.status == 200
        assert await response.json() == {"status": "success", "message": "Function cancelled"}
    await sim.drain_webhooks()
    run = await get_run(sim, client, run_id)
    assert run["status"] == "cancelled" and run["ended_at"] is not None
    assert receiver.statuses() == ["queued", "cancelled"]
    assert await sim.advance(run_id) == "cancelled"
    async with client.post(f"{sim.base_url}/run/{run_id}/cancel") as response:
        assert response.status == 200
    done = await queue(sim, client)
    await sim.finish(done)
    async with client.post(f"{sim.base_url}/run/{done}/cancel") as response:
        assert response.status == 200
    assert (await get_run(sim, client, done))["status"] == "success"
    for bad in ("15e79589-12c9-453c-a41a-348fdd7de957", "nope"):
        async with client.post(f"{sim.base_url}/run/{bad}/cancel") as response:
            assert response.status == 500
            assert await response.json() == {"detail": CANCEL_ERROR}


async def test_webhooks_on_status_changes_only_by_default(
    sim: SimulatorServer, client: aiohttp.ClientSession, receiver: Receiver
) -> None:
    run_id = await queue(sim, client, webhook=receiver.url)
    await sim.finish(run_id)
    assert receiver.statuses() == ["queued", "started", "running", "success"]
    assert {b["event_type"] for b in receiver.bodies} == {"run.updated"}
    first, running, last = receiver.bodies[0], receiver.bodies[2], receiver.bodies[-1]
    assert set(first) == {"event_type", "status", "live_status", "progress", "run_id", "outputs"}
    assert first["run_id"] == run_id and first["outputs"] == []
    assert running["live_status"] == "Executing KSampler" and 0 < running["progress"] < 1
    [output] = last["outputs"]
    assert output["created_at"].endswith("Z") and len(output["created_at"]) == 24
    assert "type" not in output and output["data"]["images"][0]["url"].endswith(".png")
    assert all("x-signature" not in {k.lower() for k in h} for h in receiver.headers)
    assert receiver.headers[0]["Content-Type"].startswith("application/json")


async def test_progress_and_output_webhooks_when_asked(
    sim: SimulatorServer, client: aiohttp.ClientSession, receiver: Receiver
) -> None:
    hook = f"{receiver.url}?target_events=run.output,run.updated&token=abc"
    run_id = await queue(sim, client, webhook=hook, webhook_intermediate_status=True)
    await sim.finish(run_id)
    kinds = [(b["event_type"], b["status"], b["progress"]) for b in receiver.bodies]
    assert kinds == [
        ("run.updated", "queued", 0.0),
        ("run.updated", "started", 0.0),
        ("run.updated", "running", 0.2),
        ("run.updated", "running", 0.4),
        ("run.updated", "running", 0.6),
        ("run.updated", "running", 0.8),
        ("run.output", "running", 1.0),
        ("run.updated", "running", 1.0),
        ("run.updated", "success", 1.0),
    ]
    assert receiver.bodies[3]["outputs"] == []
    assert receiver.bodies[6]["outputs"][0]["output_id"] == "final_result"
    assert len(receiver.bodies[-1]["outputs"]) == 1


async def test_webhook_retries_then_gives_up(
    sim: SimulatorServer, client: aiohttp.ClientSession, receiver: Receiver
) -> None:
    receiver.replies = [500, 500]
    run_id = await queue(sim, client, webhook=receiver.url)
    await sim.advance(run_id)
    assert [(a.attempt, a.status) for a in sim.webhooks.attempts] == [(1, 500), (2, 500), (3, 200)]
    assert len(receiver.bodies) == 3
    receiver.replies = [503, 503, 503]
    await sim.advance(run_id)
    assert [a.status for a in sim.webhooks.attempts[3:]] == [503, 503, 503]
    assert [b["status"] for b in sim.webhooks.delivered(run_id)] == ["queued"]
    await sim.advance(run_id)
    assert receiver.statuses()[-1] == "running"


async def test_webhook_to_dead_endpoint_is_recorded(
    sim: SimulatorServer, client: aiohttp.ClientSession, receiver: Receiver
) -> None:
    url = receiver.url
    await receiver.stop()
    run_id = await queue(sim, client, webhook=url)
    await sim.advance(run_id)
    attempts = sim.webhooks.attempts
    assert len(attempts) == 3 and all(a.status is None and a.error for a in attempts)


async def test_webhook_faults_drop_duplicate_and_reorder(
    sim: SimulatorServer, client: aiohttp.ClientSession, receiver: Receiver
) -> None:
    sim.webhooks.drop(status="started")
    sim.webhooks.duplicate(status="success")
    sim.webhooks.defer(status="running")
    run_id = await queue(sim, client, webhook=receiver.url)
    await sim.finish(run_id)
    assert receiver.statuses() == ["queued", "success", "success", "running"]
    assert [b["status"] for _, b in sim.webhooks.dropped] == ["started"]


async def test_route_faults(sim: SimulatorServer, client: aiohttp.ClientSession) -> None:
    sim.faults.fail_next(Route.QUEUE, 429, retry_after=3)
    sim.faults.fail_next(Route.GET_RUN, 503, count=2)
    url = f"{sim.base_url}/run/deployment/queue"
    async with client.post(url, json={"deployment_id": TXT2IMG_DEPLOYMENT_ID}) as response:
        assert response.status == 429 and response.headers["Retry-After"] == "3"
    run_id = await queue(sim, client)
    for _ in range(2):
        async with client.get(f"{sim.base_url}/run/{run_id}") as response:
            assert response.status == 503
    assert (await get_run(sim, client, run_id))["status"] == "not-started"
    assert sim.faults.hits[Route.GET_RUN] == 3 and sim.faults.hits[Route.QUEUE] == 2


async def test_held_route_times_out_client_until_released(
    sim: SimulatorServer, client: aiohttp.ClientSession
) -> None:
    run_id = await queue(sim, client)
    gate = sim.faults.hold(Route.GET_RUN)
    with pytest.raises(TimeoutError):
        timeout = aiohttp.ClientTimeout(total=0.2)
        async with client.get(f"{sim.base_url}/run/{run_id}", timeout=timeout):
            pass
    assert sim.faults.waiting[Route.GET_RUN] == 1
    gate.set()
    assert (await get_run(sim, client, run_id))["id"] == run_id


async def test_upload_and_image_inputs(
    sim: SimulatorServer, client: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData()
    form.add_field("file", png_bytes((8, 6), (255, 0, 0)), filename="cat.png")
    async with client.post(f"{sim.base_url}/file/upload", data=form) as response:
        assert response.status == 200
        upload = await response.json()
    assert upload["message"] == "File uploaded successfully"
    assert upload["file_name"] == "cat.png"
    assert upload["file_id"].startswith("img_") and len(upload["file_id"]) == 20
    assert (await fetch_png(upload["file_url"])).size == (8, 6)
    text = aiohttp.FormData()
    text.add_field("file", b"hello", filename="notes.txt")
    async with client.post(f"{sim.base_url}/file/upload", data=text) as response:
        assert response.status == 400
        assert await response.json() == {"detail": "Unsupported file type"}

    edit = await queue(
        sim,
        client,
        IMG2IMG_DEPLOYMENT_ID,
        inputs={"input_image": upload["file_url"], "denoise": 1},
    )
    assert await sim.finish(edit) == "success"
    url = (await get_run(sim, client, edit))["outputs"][0]["data"]["images"][0]["url"]
    assert (await fetch_png(url)).getpixel((0, 0)) == (0, 255, 255)

    data_uri = "data:image/png;base64," + base64.b64encode(png_bytes((5, 4), (0, 0, 9))).decode()
    upscale = await queue(sim, client, UPSCALE_DEPLOYMENT_ID, inputs={"input_image": data_uri})
    stored = (await get_run(sim, client, upscale))["workflow_inputs"]["input_image"]
    assert stored.startswith(sim.root_url + "/inputs/img_")
    assert await sim.finish(upscale) == "success"
    run = await get_run(sim, client, upscale)
    assert run["gpu"] == "T4"
    assert (await fetch_png(run["outputs"][0]["data"]["images"][0]["url"])).size == (10, 8)

    missing = await queue(sim, client, IMG2IMG_DEPLOYMENT_ID, inputs={"prompt": "x"})
    assert await sim.finish(missing) == "failed"


async def test_auto_mode_runs_by_itself(receiver: Receiver) -> None:
    async with SimulatorServer(mode="auto", step_delay=0, webhook_backoff=(0, 0)) as sim:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(headers=AUTH, timeout=timeout) as client:
            run_id = await queue(sim, client, webhook=receiver.url)
            await asyncio.wait_for(receiver.terminal.wait(), timeout=10)
            assert (await get_run(sim, client, run_id))["status"] == "success"
    assert receiver.statuses() == ["queued", "started", "running", "success"]
