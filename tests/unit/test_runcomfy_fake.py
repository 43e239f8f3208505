"""The fake RunComfy Serverless API, checked from the outside with plain aiohttp over sockets."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from tests.fakes.runcomfy_api import DEFAULT_API_KEY, FakeRunComfy
from tests.fakes.runcomfy_catalog import (
    DISABLED_DEPLOYMENT_ID,
    HARDWARE,
    IMG2IMG_DEPLOYMENT_ID,
    TXT2IMG_DEPLOYMENT_ID,
)
from tests.fakes.runcomfy_requests import StatusSpelling, WebhookShape
from tests.fakes.runcomfy_wire import Route

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
TERMINAL = {"succeeded", "failed", "cancelled"}
SMALL = {"5": {"inputs": {"width": 64, "height": 48}}}
Json = dict[str, Any]


def png(width: int = 8, height: int = 6, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


class Receiver:
    """A tiny local endpoint: records webhook bodies, answers queued statuses (then 200), and
    serves `/input.png` for media-URL inputs."""

    def __init__(self) -> None:
        self.bodies: list[Json] = []
        self.replies: list[int] = []
        self.terminal = asyncio.Event()
        self.root = ""
        self.image = png(10, 10, (10, 120, 240))
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"{self.root}/hook?token=abc"

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        status = self.replies.pop(0) if self.replies else 200
        if status == 200 and body.get("status") in TERMINAL:
            self.terminal.set()
        return web.json_response({"ok": status == 200}, status=status)

    async def _image(self, request: web.Request) -> web.Response:
        return web.Response(body=self.image, content_type="image/png")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        app.router.add_get("/input.png", self._image)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.root = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def statuses(self) -> list[str]:
        return [b["status"] for b in self.bodies]


@pytest.fixture
async def rc() -> AsyncIterator[FakeRunComfy]:
    async with FakeRunComfy() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    try:
        yield hook
    finally:
        await hook.stop()


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, Any]:
    """(status, JSON body, headers) of one request with the fake's token."""
    async with http.request(method, url, json=body, headers=headers or AUTH) as response:
        return response.status, await response.json(content_type=None), response.headers


async def submit(
    http: aiohttp.ClientSession,
    rc: FakeRunComfy,
    body: Json,
    deployment: str = TXT2IMG_DEPLOYMENT_ID,
    query: str = "",
    version: str = "v1",
) -> Json:
    url = f"{rc.base_url}/prod/{version}/deployments/{deployment}/inference{query}"
    status, reply, _ = await call(http, "POST", url, body)
    assert status == 200, reply
    assert "error_code" not in reply
    return dict(reply)


async def test_token_is_required_and_refusals_use_runcomfy_error_shape(
    rc: FakeRunComfy, http: aiohttp.ClientSession
) -> None:
    url = f"{rc.base_url}/prod/v2/deployments"
    for headers in ({"Authorization": "Bearer wrong"}, {"X-Nothing": "1"}):
        status, body, _ = await call(http, "GET", url, headers=headers)
        assert status == 401
        assert body == {"error_code": 401001, "error_message": "Unauthorized"}
    assert [c.status for c in rc.calls_to(Route.DEPLOYMENTS)] == [401, 401]
    assert rc.calls[0].token == "wrong"


async def test_deployments_list_get_payload_and_object_info(
    rc: FakeRunComfy, http: aiohttp.ClientSession
) -> None:
    status, listed, _ = await call(http, "GET", f"{rc.base_url}/prod/v2/deployments")
    assert status == 200 and isinstance(listed, list)
    assert {d["id"] for d in listed} == set(rc.deployments)
    assert all("payload" not in d for d in listed)
    assert all(d["hardware"][0] in HARDWARE for d in listed)
    assert HARDWARE["AMPERE_24"].usd_per_second == pytest.approx(1.75 / 3600)

    query = f"?ids={IMG2IMG_DEPLOYMENT_ID}&includes=payload"
    _, chosen, _ = await call(http, "GET", f"{rc.base_url}/prod/v2/deployments{query}")
    assert [d["id"] for d in chosen] == [IMG2IMG_DEPLOYMENT_ID]
    payload = chosen[0]["payload"]
    assert payload["workflow_api_json"]["10"]["class_type"] == "LoadImage"
    assert payload["overrides"]["10"] == {"inputs": {"image": "example.png"}}

    url = f"{rc.base_url}/prod/v2/deployments/{TXT2IMG_DEPLOYMENT_ID}?includes=payload"
    status, one, _ = await call(http, "GET", url)
    assert status == 200
    assert one["name"] == "txt2img" and one["status"] == "standby" and one["is_enabled"]
    assert set(one["payload"]["overrides"]) == {"3", "5", "6"}
    async with http.get(one["payload"]["object_info_url"]) as response:  # no token needed
        info = await response.json()
    assert info["KSampler"]["input"]["required"]["seed"][0] == "INT"

    status, missing, _ = await call(http, "GET", f"{rc.base_url}/prod/v2/deployments/nope")
    assert (status, missing["error_code"]) == (404, 404001)


async def test_submit_follow_status_fetch_result_and_output_bytes(
    rc: FakeRunComfy, http: aiohttp.ClientSession
) -> None:
    source = png()
    overrides = {
        "10": {"inputs": {"image": data_uri(source)}},
        "6": {"inputs": {"text": "a red fox"}},
        "3": {"inputs": {"denoise": 0.25}},
    }
    reply = await submit(http, rc, {"overrides": overrides}, IMG2IMG_DEPLOYMENT_ID)
    rid = reply["request_id"]
    base = f"{rc.base_url}/prod/v1/deployments/{IMG2IMG_DEPLOYMENT_ID}/requests/{rid}"
    assert reply == {
        "request_id": rid,
        "status_url": f"{base}/status",
        "result_url": f"{base}/result",
        "cancel_url": f"{base}/cancel",
    }
    sent = rc.request(rid)
    assert sent.overrides == overrides and sent.body == {"overrides": overrides}
    assert sent.submission.media[0].data == source
    assert sent.submission.graph["6"]["inputs"]["text"] == "a red fox"

    _, queued, _ = await call(http, "GET", reply["status_url"])
    assert queued == {
        "request_id": rid,
        "status": "in_queue",
        "queue_position": 0,
        "status_url": reply["status_url"],
        "result_url": reply["result_url"],
    }
    status, early, _ = await call(http, "GET", reply["result_url"])
    assert status == 200
    assert early["status"] == "in_queue" and early["finished_at"] is None
    assert "outputs" not in early

    assert await rc.advance(rid) == "in_progress"
    _, running, _ = await call(http, "GET", reply["status_url"])
    assert running["status"] == "in_progress" and running["instance_id"]
    assert "queue_position" not in running

    assert await rc.finish(rid) == "succeeded"
    _, done, _ = await call(http, "GET", reply["status_url"])
    assert done["status"] == "completed"
    _, result, _ = await call(http, "GET", reply["result_url"])
    assert result["status"] == "succeeded" and result["finished_at"] >= result["created_at"]
    image = result["outputs"]["9"]["images"][0]
    assert {k: image[k] for k in ("filename", "subfolder", "type")} == {
        "filename": "ComfyUI_00001_.png",
        "subfolder": "",
        "type": "output",
    }
    async with http.get(image["url"]) as response:  # hosted output URLs need no token
        assert response.status == 200
        data = await response.read()
    assert data == rc.output_bytes(rid)[0]
    assert Image.open(io.BytesIO(data)).size == (8, 6)

    rc.expire_outputs(rid)
    async with http.get(image["url"]) as response:
        assert response.status == 404


async def test_outputs_are_deterministic_from_the_inputs(
    rc: FakeRunComfy, http: aiohttp.ClientSession
) -> None:
    def body(seed: int) -> Json:
        return {"overrides": {**SMALL, "3": {"inputs": {"seed": seed}}}}

    rids = [(await submit(http, rc, body(seed)))["request_id"] for seed in (1, 1, 2)]
    await rc.finish_all()
    first, again, other = (rc.output_bytes(rid) for rid in rids)
    assert first == again and first != other
    assert Image.open(io.BytesIO(first[0])).size == (64, 48)


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        (
            {"overrides": {"99": {"inputs": {"text": "x"}}}},
            ["body", "overrides", "99"],
            "missing_node",
        ),
        (
            {"overrides": {"6": {"inputs": {"txt": "x"}}}},
            ["body", "overrides", "6", "inputs", "txt"],
            "missing_input",
        ),
        (
            {"overrides": {"3": {"inputs": {"positive": "x"}}}},
            ["body", "overrides", "3", "inputs", "positive"],
            "linked_input",
        ),
        (
            {"overrides": {"3": {"inputs": {"seed": "42"}}}},
            ["body", "overrides", "3", "inputs", "seed"],
            "type_error",
        ),
        ({"overrides": {"6": "x"}}, ["body", "overrides", "6", "inputs"], "dict_type"),
        ({"extra_data": {}}, ["body", "overrides"], "missing"),
        ({"overrides": [1]}, ["body", "overrides"], "dict_type"),
    ],
)
async def test_overrides_are_checked_against_the_saved_graph(
    rc: FakeRunComfy, http: aiohttp.ClientSession, body: Json, loc: list[str], kind: str
) -> None:
    url = f"{rc.base_url}/prod/v1/deployments/{TXT2IMG_DEPLOYMENT_ID}/inference"
    status, reply, _ = await call(http, "POST", url, body)
    assert status == 422
    assert reply["error_code"] == 422001
    assert [(d["loc"], d["type"]) for d in reply["detail"]] == [(loc, kind)]
    assert rc.requests.all() == []


async def test_malformed_media_bodies_and_webhook_urls_are_refused(
    rc: FakeRunComfy, http: aiohttp.ClientSession
) -> None:
    url = f"{rc.base_url}/prod/v1/deployments/{IMG2IMG_DEPLOYMENT_ID}/inference"
    bad_media = {"overrides": {"10": {"inputs": {"image": "data:image/png;base64,@@@"}}}}
    status, reply, _ = await call(http, "POST", url, bad_media)
    assert (status, reply["detail"][0]["msg"]) == (422, "malformed Base64 data URI")

    status, reply, _ = await call(http, "POST", f"{url}?webhook=ftp%3A%2F%2Fx", {"overrides": {}})
    assert status == 422 and reply["detail"][0]["loc"] == ["query", "webhook"]

    async with http.post(url, data=b"{not json", headers=AUTH) as response:
        assert response.status == 422
        assert (await response.json())["error_code"] == 422001

    inline = {"workflow_api_json": {"1": {"class_type": "SaveImage", "inputs": {}}}}
    accepted = await submit(http, rc, {**inline, "extra_data": {"api_key_comfy_org": "k"}})
    sent = rc.request(accepted["request_id"])
    assert sent.submission.workflow_api_json == inline["workflow_api_json"]
    assert sent.submission.extra_data == {"api_key_comfy_org": "k"}
    assert await rc.finish(sent.id) == "succeeded" and list(sent.outputs) == ["1"]


async def test_webhooks_carry_intermediate_statuses_and_outputs(
    rc: FakeRunComfy, http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    query = f"?webhook={quote(receiver.url, safe='')}&webhook_intermediate_status=true"
    rid = (await submit(http, rc, {"overrides": SMALL}, query=query))["request_id"]
    assert rc.request(rid).webhook == receiver.url
    await rc.drain_webhooks()
    assert receiver.statuses() == ["in_queue"]
    await rc.finish(rid)
    assert receiver.statuses() == ["in_queue", "in_progress", "succeeded"]
    final = receiver.bodies[-1]
    assert final["request_id"] == rid and final["deployment_id"] == TXT2IMG_DEPLOYMENT_ID
    assert final["finished_at"] and final["created_at"]
    assert final["outputs"] == rc.request(rid).outputs
    assert "finished_at" not in receiver.bodies[0] and "outputs" not in receiver.bodies[1]
    assert [a.status for a in rc.webhooks.attempts] == [200, 200, 200]

    legacy = {"overrides": SMALL, "webhook": receiver.url}  # body fields, terminal only
    other = (await submit(http, rc, legacy))["request_id"]
    await rc.finish(other)
    assert [b["status"] for b in rc.webhooks.delivered(other)] == ["succeeded"]


async def test_webhooks_are_retried_and_can_be_dropped_duplicated_or_reordered(
    http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    shape = WebhookShape(output_key="both", outcome=True)
    async with FakeRunComfy(webhook_shape=shape) as rc:
        query = f"?webhook={quote(receiver.url, safe='')}&webhook_intermediate_status=true"
        receiver.replies = [500, 503]
        rc.webhooks.defer(status="in_progress")
        rc.webhooks.duplicate(status="succeeded")
        rid = (await submit(http, rc, {"overrides": SMALL}, query=query))["request_id"]
        await rc.finish(rid)
        assert [(a.body["status"], a.attempt, a.status) for a in rc.webhooks.attempts] == [
            ("in_queue", 1, 500),
            ("in_queue", 2, 503),
            ("in_queue", 3, 200),
            ("succeeded", 1, 200),
            ("succeeded", 1, 200),
            ("in_progress", 1, 200),
        ]
        final = receiver.bodies[-2]
        assert final["outcome"] == "succeeded" and final["output"] == final["outputs"]

        rc.webhooks.drop()
        silent = (await submit(http, rc, {"overrides": SMALL}, query=query))["request_id"]
        await rc.finish(silent)
        assert rc.webhooks.delivered(silent) == []
        assert [b["status"] for _, b in rc.webhooks.dropped] == [
            "in_queue",
            "in_progress",
            "succeeded",
        ]


async def test_cancel_queued_running_and_finished_requests(
    rc: FakeRunComfy, http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    query = f"?webhook={quote(receiver.url, safe='')}"
    queued = await submit(http, rc, {"overrides": SMALL}, query=query)
    _, answer, _ = await call(http, "POST", queued["cancel_url"])
    assert answer == {"request_id": queued["request_id"], "status": "cancellation_requested"}
    _, status, _ = await call(http, "GET", queued["status_url"])
    _, result, _ = await call(http, "GET", queued["result_url"])
    assert status["status"] == "cancelled" and result["status"] == "cancelled"
    assert result["finished_at"] and "outputs" not in result
    _, again, _ = await call(http, "POST", queued["cancel_url"])
    assert again["status"] == "not_cancellable"

    running = await submit(http, rc, {"overrides": SMALL}, query=query)
    await rc.advance(running["request_id"])
    _, answer, _ = await call(http, "POST", running["cancel_url"])
    assert answer["status"] == "cancellation_requested"
    _, status, _ = await call(http, "GET", running["status_url"])
    assert status["status"] == "in_progress"  # takes effect at the instance's next step
    assert await rc.advance(running["request_id"]) == "cancelled"
    await rc.drain_webhooks()
    assert receiver.statuses() == ["cancelled", "cancelled"]


async def test_failures_report_an_error_list(
    http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    async with FakeRunComfy(status_spelling=StatusSpelling(failed="failed")) as rc:
        query = f"?webhook={quote(receiver.url, safe='')}"
        first = await submit(http, rc, {"overrides": SMALL}, query=query)
        await rc.advance(first["request_id"])
        assert await rc.fail(first["request_id"], "CUDA out of memory") == "failed"
        _, status, _ = await call(http, "GET", first["status_url"])
        _, result, _ = await call(http, "GET", first["result_url"])
        assert status["status"] == "failed"
        assert result["status"] == "failed" and "outputs" not in result
        assert result["error"] == [
            {"errorCode": 500, "error": "CUDA out of memory", "debugInfo": "Simulated failure"}
        ]
        assert receiver.bodies[-1]["error"] == result["error"]

        text = {"overrides": {**SMALL, "6": {"inputs": {"text": "please FAIL now"}}}}
        second = (await submit(http, rc, text))["request_id"]
        assert await rc.finish(second) == "failed"

        third = (await submit(http, rc, {"overrides": SMALL}))["request_id"]
        rc.fail_when_run(third)
        assert [await rc.advance(third), await rc.advance(third)] == ["in_progress", "failed"]


async def test_media_urls_are_fetched_from_loopback_only_and_recorded(
    rc: FakeRunComfy, http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    def body(url: str) -> Json:
        return {"overrides": {"10": {"inputs": {"image": url}}}}

    good = f"{receiver.root}/input.png"
    ok = (await submit(http, rc, body(good), IMG2IMG_DEPLOYMENT_ID))["request_id"]
    assert await rc.finish(ok) == "succeeded"
    assert Image.open(io.BytesIO(rc.output_bytes(ok)[0])).size == (10, 10)

    missing = await submit(http, rc, body(f"{receiver.root}/nope.png"), IMG2IMG_DEPLOYMENT_ID)
    remote = await submit(http, rc, body("https://example.com/in.jpg"), IMG2IMG_DEPLOYMENT_ID)
    for reply in (missing, remote):
        assert await rc.finish(reply["request_id"]) == "failed"
        _, result, _ = await call(http, "GET", reply["result_url"])
        assert result["error"][0]["error"].startswith("Failed to load input media")
    assert [(f.url, f.status) for f in rc.fetched] == [
        (good, 200),
        (f"{receiver.root}/nope.png", 404),
        ("https://example.com/in.jpg", None),
    ]


async def test_rate_limits_and_server_errors_are_injected_per_route(
    rc: FakeRunComfy, http: aiohttp.ClientSession
) -> None:
    reply = await submit(http, rc, {"overrides": SMALL})
    rc.faults.fail_next(Route.STATUS, 429, count=2, retry_after=3)
    rc.faults.fail_next(Route.STATUS, 503, text="<html>upstream down</html>")
    for _ in range(2):
        status, body, headers = await call(http, "GET", reply["status_url"])
        assert (status, headers["Retry-After"]) == (429, "3")
        assert body == {"error_code": 429001, "error_message": "Too Many Requests"}
    async with http.get(reply["status_url"], headers=AUTH) as response:
        assert response.status == 503 and "upstream" in await response.text()
    status, body, _ = await call(http, "GET", reply["status_url"])
    assert status == 200 and body["status"] == "in_queue"
    assert rc.faults.hits[Route.STATUS] == 4
    assert [c.status for c in rc.calls_to(Route.STATUS)] == [429, 429, 503, 200]


async def test_http_200_with_a_top_level_error_code(
    rc: FakeRunComfy, http: aiohttp.ClientSession
) -> None:
    rc.faults.error_code_next(Route.INFERENCE, 500001, "Failed to queue prompt")
    url = f"{rc.base_url}/prod/v1/deployments/{TXT2IMG_DEPLOYMENT_ID}/inference"
    status, body, _ = await call(http, "POST", url, {"overrides": SMALL})
    assert status == 200
    assert body == {"error_code": 500001, "error_message": "Failed to queue prompt"}
    assert rc.requests.all() == []

    disabled = f"{rc.base_url}/prod/v1/deployments/{DISABLED_DEPLOYMENT_ID}/inference"
    status, body, _ = await call(http, "POST", disabled, {"overrides": {}})
    assert (status, body["error_code"]) == (200, 10002)


async def test_unknown_deployment_or_request_is_404(
    rc: FakeRunComfy, http: aiohttp.ClientSession
) -> None:
    reply = await submit(http, rc, {"overrides": SMALL})
    rid = reply["request_id"]
    root = f"{rc.base_url}/prod/v1/deployments"
    for url in (
        f"{root}/nope/inference",
        f"{root}/nope/requests/{rid}/status",
        f"{root}/{TXT2IMG_DEPLOYMENT_ID}/requests/nope/result",
        f"{root}/{IMG2IMG_DEPLOYMENT_ID}/requests/{rid}/status",
        f"{root}/{TXT2IMG_DEPLOYMENT_ID}/requests/nope/cancel",
    ):
        method = "GET" if url.endswith(("status", "result")) else "POST"
        status, body, _ = await call(http, method, url, {"overrides": {}})
        assert (status, body["error_code"]) == (404, 404001), url
    status, body, _ = await call(http, "GET", f"{rc.base_url}/prod/v9/elsewhere")
    assert (status, body["error_code"]) == (404, 404001)


async def test_cold_start_keeps_requests_queued_until_the_instance_is_ready(
    rc: FakeRunComfy, http: aiohttp.ClientSession
) -> None:
    rc.cold_start(TXT2IMG_DEPLOYMENT_ID)
    replies = [await submit(http, rc, {"overrides": SMALL}) for _ in range(2)]
    other = await submit(http, rc, {"overrides": {}}, IMG2IMG_DEPLOYMENT_ID)
    positions = []
    for reply in replies:
        assert await rc.advance(reply["request_id"]) == "in_queue"
        _, body, _ = await call(http, "GET", reply["status_url"])
        positions.append(body["queue_position"])
    assert positions == [0, 1]
    with pytest.raises(RuntimeError, match="cold start"):
        await rc.finish(replies[0]["request_id"])
    assert await rc.advance(other["request_id"]) == "in_progress"  # another deployment is warm

    rc.instance_ready(TXT2IMG_DEPLOYMENT_ID)
    assert await rc.advance(replies[0]["request_id"]) == "in_progress"
    _, body, _ = await call(http, "GET", replies[1]["status_url"])
    assert body["queue_position"] == 0
    await rc.finish_all()
    instances = {rc.request(r["request_id"]).instance_id for r in replies}
    assert len(instances) == 1


async def test_v2_paths_work_like_v1_and_hand_out_v2_urls(
    rc: FakeRunComfy, http: aiohttp.ClientSession
) -> None:
    reply = await submit(http, rc, {"overrides": SMALL}, version="v2")
    assert "/prod/v2/deployments/" in reply["status_url"]
    assert rc.request(reply["request_id"]).api_version == "v2"
    await rc.finish(reply["request_id"])
    _, result, _ = await call(http, "GET", reply["result_url"])
    assert result["status"] == "succeeded"
    v1 = reply["result_url"].replace("/prod/v2/", "/prod/v1/")
    assert (await call(http, "GET", v1))[1] == result


async def test_auto_mode_runs_requests_to_the_end_by_itself(
    http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    async with FakeRunComfy(mode="auto", step_delay=0) as rc:
        rc.cold_start()
        query = f"?webhook={quote(receiver.url, safe='')}&webhook_intermediate_status=true"
        rid = (await submit(http, rc, {"overrides": SMALL}, query=query))["request_id"]
        await rc.drain_webhooks()
        assert rc.request(rid).phase == "in_queue"
        rc.instance_ready()
        async with asyncio.timeout(5):
            await receiver.terminal.wait()
        assert receiver.statuses() == ["in_queue", "in_progress", "succeeded"]
