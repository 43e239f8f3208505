"""The HTTP run API from a client's side, against the real server, engine and simulator: a text
and an image workflow from request to result (images by upload or URL), outputs gone from disk,
idempotent retries, the event stream to the result and reopened mid-run, the callback once
despite a duplicated webhook and again after a failed send, and the OpenAPI document following
the catalog. One bot serves the whole module (CALLBACK_ALLOW_PRIVATE on, for the local
receiver)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
import pytest_asyncio
from openapi_spec_validator import validate
from PIL import Image

from adapters.mongo.database import API_REQUESTS
from core.credits import format_credits
from core.models import DeliveryState, RunStatus
from core.workflow import Deployment, DeploymentRef, InputSpec, InputType, Workflow
from tests.e2e.api_rig import Api, api_bot, png
from tests.fakes.backend import MemoryBackend

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXTRA = MemoryBackend("extra")
SKETCH = Workflow(
    name="sketch",
    command="sketch",
    description="A quick sketch",
    inputs=(InputSpec(name="subject", type=InputType.TEXT, required=True),),
    deployments=(DeploymentRef(backend="extra", id="d-sketch"),),
)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def api(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    tmp_path: Path = tmp_path_factory.mktemp("api_runs")
    async with api_bot(
        mongo_uri, tmp_path, extra_backends=[EXTRA], callback_allow_private=True
    ) as rig:
        yield rig


async def started(
    api: Api, token: str, workflow: str, body: dict[str, Any], **headers: str
) -> dict[str, Any]:
    path = f"/api/v1/workflows/{workflow}/runs"
    status, answer, _ = await api.call("POST", path, token, body=body, headers=headers)
    assert status == 202, answer
    return dict(answer)


async def stream(api: Api, token: str, run_id: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """The run's events as (event, data), until the server ends the stream."""
    url = f"{api.base}/api/v1/runs/{run_id}/events"
    async with api.http.get(url, headers=api.auth(token)) as response:
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        kind, data = None, None
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
            elif line == "" and kind is not None and data is not None:
                yield kind, data
                kind, data = None, None


async def test_a_text_workflow_from_request_to_result(api: Api) -> None:
    token = await api.key("text-flow", credits="50")
    status, listing, _ = await api.call("GET", "/api/v1/workflows", token)
    assert status == 200
    workflows = {w["name"]: w for w in listing["workflows"]}
    assert {"txt2img", "img2img", "upscale"} <= set(workflows)
    txt2img = workflows["txt2img"]
    assert txt2img["text_only"] is True and txt2img["backend"] == "comfydeploy"
    steps = txt2img["schema"]["properties"]["steps"]
    assert (steps["type"], steps["minimum"], steps["maximum"], steps["default"]) == (
        "integer",
        1,
        50,
        20,
    )
    assert txt2img["schema"]["properties"]["style"]["enum"] == [
        "none",
        "watercolor",
        "photo",
        "anime",
    ]
    assert txt2img["schema"]["additionalProperties"] is False
    assert txt2img["expected"]["seconds"] == 60 and txt2img["expected"]["credits"] > 0

    body = {"prompt": "a red fox", "seed": 7, "width": 64, "height": 48}
    accepted = await started(api, token, "txt2img", body)
    run_id = accepted["id"]
    assert accepted["status"] == "not-started"
    assert accepted["quote"]["credits"] == txt2img["expected"]["credits"]
    assert accepted["urls"]["self"] == f"{api.base}/api/v1/runs/{run_id}"

    finished = await api.finish(run_id)
    assert finished.status is RunStatus.SUCCESS and finished.delivery is DeliveryState.DELIVERED
    status, run, _ = await api.call("GET", f"/api/v1/runs/{run_id}", token)
    assert status == 200
    assert run["status"] == "success" and run["final"] is True and run["error"] is None
    assert run["inputs"] == {"prompt": "a red fox", "seed": 7, "width": 64, "height": 48}
    assert run["cost_usd"] == finished.cost_usd and run["run_time_s"] == finished.duration_s
    balance = await api.container.accounts.balance("api:text-flow")
    assert run["balance"] == float(format_credits(balance.available))
    assert len(run["outputs"]) == 1
    output = run["outputs"][0]
    assert output["url"] == f"{api.base}/api/v1/runs/{run_id}/outputs/0"
    assert output["source_url"].startswith(api.world.sim.base_url.rsplit("/api", 1)[0])
    async with api.http.get(output["url"], headers=api.auth(token)) as response:
        assert response.status == 200 and response.content_type == "image/png"
        with Image.open(io.BytesIO(await response.read())) as image:
            assert image.size == (64, 48)

    status, page, _ = await api.call("GET", "/api/v1/runs", token)
    assert [r["id"] for r in page["runs"]] == [run_id] and page["next"] is None
    assert page["runs"][0]["outputs"] == run["outputs"]


async def test_an_output_no_longer_on_disk_is_sent_to_the_backends_copy(api: Api) -> None:
    token = await api.key("late-reader")
    accepted = await started(api, token, "txt2img", {"prompt": "a fading fox"})
    finished = await api.finish(accepted["id"])
    assert finished.delivery is DeliveryState.DELIVERED
    _, view, _ = await api.call("GET", f"/api/v1/runs/{finished.id}", token)
    (output,) = view["outputs"]
    saved = sorted((api.world.settings.data_dir / "outputs" / finished.id).iterdir())
    assert len(saved) == 1
    saved[0].unlink()  # swept by retention, or another process's disk

    path = f"/api/v1/runs/{finished.id}/outputs/0"
    status, _, headers = await api.call("GET", path, token)
    assert (status, headers["Location"]) == (302, output["source_url"])
    async with api.http.get(output["url"], headers=api.auth(token)) as followed:
        assert followed.status == 200 and followed.content_type == "image/png"
        assert str(followed.url) == output["source_url"]

    assert finished.origin is not None
    await api.container.db[API_REQUESTS].update_one(
        {"_id": finished.origin}, {"$set": {"result.files.0.source_url": None}}
    )
    status, answer, _ = await api.call("GET", path, token)
    assert status == 410
    assert answer == {
        "error": {
            "code": "output_gone",
            "message": f"Output 0 of run {finished.id} is gone.",
            "problems": [],
        }
    }


async def test_an_image_workflow_with_an_upload(api: Api) -> None:
    token = await api.key("image-flow")
    form = aiohttp.FormData()
    form.add_field("file", png(16, 12), filename="cat.bin", content_type="text/plain")
    status, upload, _ = await api.call("POST", "/api/v1/uploads", token, data=form)
    assert status == 201, upload
    assert (upload["mime"], upload["width"], upload["height"]) == ("image/png", 16, 12)
    assert upload["filename"] == "cat.png" and upload["id"].startswith("upl_")

    accepted = await started(
        api, token, "img2img", {"input_image": upload["id"], "prompt": "make it blue"}
    )
    run = await api.run(accepted["id"])
    assert str(run.inputs["input_image"]).startswith(api.world.sim.root_url)  # sent over
    assert run.inputs["prompt"] == "make it blue"
    finished = await api.finish(run.id)
    assert finished.status is RunStatus.SUCCESS
    status, view, _ = await api.call("GET", f"/api/v1/runs/{run.id}", token)
    assert view["status"] == "success" and len(view["outputs"]) == 1

    linked = "https://images.example.com/cat.png"  # the backend fetches it, not the bot
    by_url = await started(api, token, "img2img", {"input_image": linked, "prompt": "by link"})
    stored = await api.run(by_url["id"])
    assert stored.inputs["input_image"] == linked and stored.inputs["prompt"] == "by link"
    status, cancelled, _ = await api.call("POST", f"/api/v1/runs/{stored.id}/cancel", token)
    assert status == 200 and cancelled["inputs"]["input_image"] == linked
    path = "/api/v1/workflows/img2img/runs"
    status, refused, _ = await api.call(
        "POST", path, token, body={"input_image": "ftp://x", "prompt": "by ftp"}
    )
    assert status == 422 and [p["input"] for p in refused["error"]["problems"]] == ["input_image"]

    other = await api.key("image-thief")
    status, refused, _ = await api.call(
        "POST", path, other, body={"input_image": upload["id"], "prompt": "mine now"}
    )
    assert status == 422
    assert refused["error"]["problems"] == [
        {
            "input": "input_image",
            "message": f"`input_image`: you have no upload {upload['id']} (uploads are kept "
            "for a day).",
        }
    ]
    form = aiohttp.FormData()
    form.add_field("file", b"GIF89a but not really", filename="x.gif")
    status, refused, _ = await api.call("POST", "/api/v1/uploads", token, data=form)
    assert status == 422 and refused["error"]["code"] == "input.not_an_image"


async def test_retries_with_an_idempotency_key_make_one_run(api: Api) -> None:
    token = await api.key("retrier")
    body = {"prompt": "one fox only", "seed": 3}
    first = await started(api, token, "txt2img", body, **{"Idempotency-Key": "order-1"})
    path = "/api/v1/workflows/txt2img/runs"
    status, again, headers = await api.call(
        "POST", path, token, body=body, headers={"Idempotency-Key": "order-1"}
    )
    assert (status, again["id"], headers.get("Idempotent-Replayed")) == (202, first["id"], "true")
    respaced = json.dumps({"seed": 3, "prompt": "one fox only"}, indent=2)
    status, same, _ = await api.call(
        "POST",
        path,
        token,
        data=respaced,
        headers={"Idempotency-Key": "order-1", "Content-Type": "application/json"},
    )
    assert (status, same["id"]) == (202, first["id"])
    status, conflict, _ = await api.call(
        "POST", path, token, body={**body, "seed": 4}, headers={"Idempotency-Key": "order-1"}
    )
    assert status == 409 and conflict["error"]["code"] == "idempotency_conflict"

    at_once = await asyncio.gather(
        *(
            api.call(
                "POST", path, token, body={"prompt": "burst"}, headers={"Idempotency-Key": "b"}
            )
            for _ in range(5)
        )
    )
    assert {status for status, _, _ in at_once} == {202}
    assert len({answer["id"] for _, answer, _ in at_once}) == 1
    other = await api.key("retrier-2")
    status, theirs, _ = await api.call(
        "POST", path, other, body=body, headers={"Idempotency-Key": "order-1"}
    )
    assert status == 202 and theirs["id"] != first["id"]  # keys are per API key

    runs = await api.container.runs_store.recent(50, user_key="api:retrier")
    assert len(runs) == 2
    held = sum(run.credits.held for run in runs if run.credits)
    assert (await api.container.accounts.balance("api:retrier")).reserved == held

    api.world.clock.advance(25 * 3600)  # kept for 24 hours
    later = await started(api, token, "txt2img", body, **{"Idempotency-Key": "order-1"})
    assert later["id"] != first["id"]


async def test_the_event_stream_follows_the_run_to_its_result(api: Api) -> None:
    token = await api.key("watcher")
    accepted = await started(api, token, "txt2img", {"prompt": "a slow fox"})
    run = await api.run(accepted["id"])
    assert run.backend_run_id is not None
    events: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()

    async def read() -> None:
        async for event in stream(api, token, run.id):
            await events.put(event)
        await events.put(None)

    reader = asyncio.create_task(read())
    first = await asyncio.wait_for(events.get(), 5)
    assert first is not None and first[0] == "status"
    assert first[1]["id"] == run.id and first[1]["status"] == "not-started"
    seen = [first]
    while (await api.world.sim.advance(run.backend_run_id)) not in ("success",):
        event = await asyncio.wait_for(events.get(), 5)
        assert event is not None
        seen.append(event)
    while (event := await asyncio.wait_for(events.get(), 5)) is not None:
        seen.append(event)
    await reader
    kinds = [kind for kind, _ in seen]
    assert kinds[-1] == "result" and set(kinds[:-1]) == {"status"}
    statuses = [data["status"] for _, data in seen]
    assert statuses[:4] == ["not-started", "queued", "started", "running"]
    progress = [data["progress"] for _, data in seen if data["status"] == "running"]
    assert progress == sorted(progress) and progress[-1] == 1.0
    result = seen[-1][1]
    assert result["status"] == "success" and result["final"] and len(result["outputs"]) == 1

    again = [event async for event in stream(api, token, run.id)]  # a reconnect, after the end
    assert again == [("result", result)]


async def first_event(api: Api, token: str, run_id: str) -> tuple[str, dict[str, Any]]:
    """Connect to the run's event stream, read one event, hang up."""
    events = stream(api, token, run_id)
    try:
        return await asyncio.wait_for(anext(events), 5)
    finally:
        await events.aclose()


async def test_a_stream_reopened_mid_run_starts_with_the_run_as_it_is_now(api: Api) -> None:
    token = await api.key("reconnecter")
    accepted = await started(api, token, "txt2img", {"prompt": "an interrupted fox"})
    run = await api.run(accepted["id"])
    assert run.backend_run_id is not None
    kind, data = await first_event(api, token, run.id)
    assert (kind, data["status"], data["progress"]) == ("status", "not-started", 0)

    while (await api.world.sim.advance(run.backend_run_id)) != "running":
        pass
    await api.world.sim.advance(run.backend_run_id)  # a little further along
    await api.settle()
    now = await api.run(run.id)
    assert now.status.value == "running" and 0 < now.progress < 1

    kind, data = await first_event(api, token, run.id)
    assert (kind, data["status"], data["progress"]) == (
        "status",
        "running",
        round(now.progress, 4),
    )
    _, polled, _ = await api.call("GET", f"/api/v1/runs/{run.id}", token)
    assert data == polled
    finished = await api.finish(run.id)
    assert finished.status is RunStatus.SUCCESS


async def test_the_callback_is_called_once_despite_a_duplicated_webhook(api: Api) -> None:
    issued = await api.issue("caller-back")
    token, secret = issued.token, issued.key.signing_secret
    path = f"/cb/{issued.key.id}"
    body = {"prompt": "call me", "callback_url": api.receiver.url + path}
    accepted = await started(api, token, "txt2img", body)
    api.world.sim.webhooks.duplicate(status="success", count=None)
    try:
        finished = await api.finish(accepted["id"])
        await api.world.sim.drain_webhooks()
        await api.settle()
    finally:
        api.world.sim.webhooks.clear_faults()
    assert finished.delivery is DeliveryState.DELIVERED
    delivered = [a for a in api.world.sim.webhooks.attempts if a.body.get("status") == "success"]
    assert len([a for a in delivered if a.body["run_id"] == finished.backend_run_id]) == 2
    calls = api.receiver.at(path)
    assert len(calls) == 1
    call = calls[0]
    timestamp = call.headers["X-Comfybot-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + call.body, hashlib.sha256)
    assert call.headers["X-Comfybot-Signature"] == f"sha256={expected.hexdigest()}"
    assert call.headers["X-Comfybot-Event"] == f"run.{finished.id}.result"
    sent = call.json()
    _, shown, _ = await api.call("GET", f"/api/v1/runs/{finished.id}", token)
    assert sent["status"] == "success" and sent["final"] is True
    assert sent["outputs"] == shown["outputs"] and len(sent["outputs"]) == 1
    assert sent["outputs"][0]["url"].startswith(api.world.settings.public_base_url or "-")


async def test_a_failing_callback_is_retried_honouring_retry_after(api: Api) -> None:
    issued = await api.issue("flaky-receiver")
    path = f"/cb/{issued.key.id}"
    api.receiver.replies = [(503, {"Retry-After": "7"}), (500, {})]
    body = {"prompt": "again", "callback_url": api.receiver.url + path}
    waits_before = len(api.callback_waits)
    accepted = await started(api, issued.token, "txt2img", body)
    finished = await api.finish(accepted["id"])
    assert finished.delivery is DeliveryState.DELIVERED
    calls = api.receiver.at(path)
    assert len(calls) == 3 and len({c.body for c in calls}) == 1
    waits = api.callback_waits[waits_before:]
    assert waits[0] == 7 and len(waits) == 2


async def test_a_callback_whose_send_failed_is_sent_again_by_delivery(api: Api) -> None:
    issued = await api.issue("down-receiver")
    path = f"/cb/{issued.key.id}"
    api.receiver.replies = [(500, {})] * 3  # one send's every try
    body = {"prompt": "later then", "callback_url": api.receiver.url + path}
    accepted = await started(api, issued.token, "txt2img", body)
    unsent = await api.finish(accepted["id"])
    assert unsent.delivery is DeliveryState.PENDING
    assert [call.answered for call in api.receiver.at(path)] == [500, 500, 500]
    _, polled, _ = await api.call("GET", f"/api/v1/runs/{unsent.id}", issued.token)
    assert polled["final"] is True  # recorded before the callback: polling sees it

    api.world.clock.advance(60)  # past delivery's backoff
    assert await api.container.delivery.deliver_due() >= 1
    await api.settle()
    calls = api.receiver.at(path)
    assert [call.answered for call in calls] == [500, 500, 500, 200]
    assert len({call.body for call in calls}) == 1
    assert (await api.run(unsent.id)).delivery is DeliveryState.DELIVERED
    api.world.clock.advance(3600)
    await api.container.delivery.deliver_due()
    await api.settle()
    assert len(api.receiver.at(path)) == 4


async def test_a_callback_refused_with_a_400_is_not_sent_again(api: Api) -> None:
    issued = await api.issue("refusing-receiver")
    path = f"/cb/{issued.key.id}"
    api.receiver.replies = [(400, {})]
    body = {"prompt": "not wanted", "callback_url": api.receiver.url + path}
    accepted = await started(api, issued.token, "txt2img", body)
    ended = await api.finish(accepted["id"])
    assert [call.answered for call in api.receiver.at(path)] == [400]
    assert ended.delivery is DeliveryState.ABANDONED
    api.world.clock.advance(3600)
    await api.container.delivery.deliver_due()
    await api.settle()
    assert len(api.receiver.at(path)) == 1
    _, polled, _ = await api.call("GET", f"/api/v1/runs/{ended.id}", issued.token)
    assert polled["status"] == "success" and len(polled["outputs"]) == 1


async def test_the_openapi_document_is_valid_and_follows_the_catalog(api: Api) -> None:
    status, document, _ = await api.call("GET", "/api/v1/openapi.json")
    assert status == 200
    validate(document)
    runs = {
        path: item["post"]
        for path, item in document["paths"].items()
        if path.startswith("/api/v1/workflows/") and path.endswith("/runs")
    }
    assert set(runs) == {f"/api/v1/workflows/{w}/runs" for w in ("txt2img", "img2img", "upscale")}
    for path, operation in runs.items():
        name = path.split("/")[4]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/run_{name}_inputs"
        assert {"202", "401", "402", "404", "409", "422", "429"} <= set(operation["responses"])
    schema = document["components"]["schemas"]["run_txt2img_inputs"]
    jsonschema.Draft202012Validator(schema).validate({"prompt": "a fox", "steps": 20, "seed": -1})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate({"prompt": "a fox", "steps": 99})

    EXTRA.workflows = [SKETCH]
    EXTRA.deployments = [Deployment(backend="extra", id="d-sketch", workflow_name="sketch")]
    try:
        assert await api.container.catalog.refresh()
        status, grown, _ = await api.call("GET", "/api/v1/openapi.json")
        validate(grown)
        sketch = grown["paths"]["/api/v1/workflows/sketch/runs"]["post"]
        assert sketch["operationId"] == "run_sketch"
        assert grown["components"]["schemas"]["run_sketch_inputs"]["required"] == ["subject"]
    finally:
        EXTRA.workflows, EXTRA.deployments = [], []
    assert await api.container.catalog.refresh()
    status, shrunk, _ = await api.call("GET", "/api/v1/openapi.json")
    assert "/api/v1/workflows/sketch/runs" not in shrunk["paths"]
