"""The Comfy API v2 as comfy-api-proxy 0.1.6 serves it in front of the fake ComfyUI.

Each test pins down one piece of the wire behaviour a backend adapter relies on (Job JSON, SSE,
Idempotency-Key, assets, output URLs, errors), with plain aiohttp calls.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.fakes.comfyui_files import colour_for, solid_png
from tests.fakes.comfyui_graphs import asset_ref, img2img, txt2img
from tests.fakes.comfyui_sse import SseComment, SseEvent, read_sse
from tests.fakes.comfyui_stack import ComfyApiStack

JsonDict = dict[str, Any]
TERMINAL = {"succeeded", "failed", "canceled", "expired"}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def stack() -> AsyncIterator[ComfyApiStack]:
    async with ComfyApiStack(mode="manual", token="s3cret") as running:
        yield running


class Api:
    """Plain HTTP calls to the proxy, with the stack's token."""

    def __init__(self, session: aiohttp.ClientSession, stack: ComfyApiStack) -> None:
        self.session = session
        self.stack = stack
        self.base = f"{stack.api_url}/api/v2"

    async def call(
        self, method: str, url: str, *, expect: int | None = None, **kw: Any
    ) -> tuple[int, Any]:
        headers = {**self.stack.headers, **kw.pop("headers", {})}
        async with self.session.request(method, url, headers=headers, **kw) as r:
            body = await r.json() if r.content_type == "application/json" else await r.read()
            if expect is not None:
                assert r.status == expect, body
            return r.status, body

    async def submit(self, graph: JsonDict, key: str | None = None, **extra: Any) -> JsonDict:
        headers = {"Idempotency-Key": key} if key else {}
        _, job = await self.call(
            "POST",
            f"{self.base}/jobs",
            json={"workflow": graph, **extra},
            headers=headers,
            expect=201,
        )
        return dict(job)

    async def job(self, job: JsonDict) -> JsonDict:
        _, body = await self.call("GET", job["urls"]["self"], expect=200)
        return dict(body)

    async def upload(self, data: bytes, file_path: str = "in.png") -> tuple[int, JsonDict]:
        form = aiohttp.FormData()
        form.add_field("file", data, filename=file_path, content_type="image/png")
        form.add_field("file_path", file_path)
        form.add_field("content_type", "image/png")
        return await self.call("POST", f"{self.base}/assets", data=form)


@pytest.fixture
def api(session: aiohttp.ClientSession, stack: ComfyApiStack) -> Api:
    return Api(session, stack)


async def events_until_end(response: aiohttp.ClientResponse) -> list[SseEvent]:
    return [e async for e in read_sse(response) if isinstance(e, SseEvent)]


async def test_txt2img_submit_follow_events_get_and_download(
    api: Api, stack: ComfyApiStack, session: aiohttp.ClientSession
) -> None:
    job = await api.submit(txt2img("a red fox", seed=3, steps=3), key="run-1")
    assert set(job) == {
        "id",
        "status",
        "created_at",
        "started_at",
        "completed_at",
        "expires_at",
        "queue_position",
        "progress",
        "outputs",
        "error",
        "outputs_reused",
        "urls",
    }
    assert (job["status"], job["outputs"], job["error"], job["queue_position"]) == (
        "queued",
        [],
        None,
        None,
    )
    base = stack.api_url
    assert job["urls"] == {
        "self": f"{base}/api/v2/jobs/{job['id']}",
        "events": f"{base}/api/v2/jobs/{job['id']}/events",
        "cancel": f"{base}/api/v2/jobs/{job['id']}/cancel",
    }
    # The job id is ComfyUI's prompt_id and the client_id of its event socket.
    record = stack.comfy.prompts[0]
    assert (record.prompt_id, record.client_id) == (job["id"], job["id"])
    assert (await api.job(job))["queue_position"] == 1

    headers = {**stack.headers, "Accept": "text/event-stream"}
    async with session.get(job["urls"]["events"], headers=headers) as stream:
        assert stream.status == 200
        assert stream.headers["Content-Type"] == "text/event-stream"
        frames = read_sse(stream)
        first = await anext(frames)
        assert first == SseEvent("status", {"status": "queued", "queue_position": 1})
        await stack.comfy.wait_socket(job["id"])
        await stack.comfy.step()
        await stack.comfy.step()
        running = await api.job(job)
        assert running["status"] == "running"
        assert running["progress"] == {"value": 0.0, "nodes_done": 0, "nodes_total": 0}
        await stack.comfy.finish()
        rest = [e async for e in frames if isinstance(e, SseEvent)]
    progress = [e.data for e in rest if e.event == "progress"]
    assert progress and set(progress[0]) == {
        "value",
        "nodes_done",
        "nodes_total",
        "current_node",
        "step",
        "steps",
    }
    assert [e.event for e in rest if e.event != "progress"] == ["output", "status"]
    output, final = rest[-2].data, rest[-1].data
    assert final == {"status": "succeeded"}
    assert all(e.id is None for e in rest)  # no event ids: nothing to resume from

    done = await api.job(job)
    assert (done["status"], done["error"], done["outputs_reused"]) == ("succeeded", None, False)
    # Same output, but each answer stamps a fresh url_expires_at (now + 24 h).
    assert [{**o, "url_expires_at": None} for o in done["outputs"]] == [
        {**output, "url_expires_at": None}
    ]
    assert output["node_id"] == "9" and output["name"] == "ComfyUI_00001_.png"
    assert (output["type"], output["content_type"], output["size_bytes"]) == (
        "image",
        "image/png",
        0,
    )
    assert output["url"] == f"{base}/api/v2/assets/{output['id']}/content"
    assert output["job_id"] == job["id"]
    # The output URL is the proxy's own, behind the same token.
    _status, data = await api.call("GET", output["url"], expect=200)
    stored = stack.comfy.file("output", "ComfyUI_00001_.png")
    assert stored is not None and data == stored.data
    assert Image.open(io.BytesIO(data)).getpixel((1, 1)) == colour_for(3, "a red fox")
    async with session.get(output["url"]) as anonymous:
        assert anonymous.status == 401
    assert stack.comfy.hits["/view"] == 1


async def test_an_idempotency_key_is_single_use_not_a_replay(
    api: Api, stack: ComfyApiStack
) -> None:
    await api.submit(txt2img(), key="same")
    for graph in (txt2img(), txt2img("something else")):
        status, body = await api.call(
            "POST",
            f"{api.base}/jobs",
            json={"workflow": graph},
            headers={"Idempotency-Key": "same"},
        )
        assert status == 422
        assert body["error"]["code"] == "idempotency_key_reuse"
    assert len(stack.comfy.prompts) == 1
    # A key is released when ComfyUI definitely refused the prompt...
    stack.comfy.fail_next("/prompt", 500)
    status, body = await api.call(
        "POST", f"{api.base}/jobs", json={"workflow": txt2img()}, headers={"Idempotency-Key": "k2"}
    )
    assert (status, body["error"]["code"]) == (422, "invalid_workflow")  # even for a 500
    assert body["error"]["message"] == "Workflow rejected."
    await api.submit(txt2img(), key="k2")
    # ...and held when the outcome is unknown (connection lost): a retry cannot double-submit.
    stack.comfy.drop_next("/prompt", handled=True)
    status, body = await api.call(
        "POST", f"{api.base}/jobs", json={"workflow": txt2img()}, headers={"Idempotency-Key": "k3"}
    )
    assert (status, body["error"]["code"]) == (503, "upstream_unreachable")
    assert len(stack.comfy.prompts) == 3  # ComfyUI did queue it
    status, body = await api.call(
        "POST", f"{api.base}/jobs", json={"workflow": txt2img()}, headers={"Idempotency-Key": "k3"}
    )
    assert (status, body["error"]["code"]) == (422, "idempotency_key_reuse")


async def test_an_uploaded_asset_feeds_img2img(api: Api, stack: ComfyApiStack) -> None:
    picture = solid_png(16, 16, (0, 0, 250))
    status, refused = await api.upload(picture, "bot/photo.png")
    assert (status, refused["error"]["code"]) == (422, "invalid_request")  # not a known root
    status, asset = await api.upload(picture, "input/bot/photo.png")
    assert status == 201
    assert asset["created_new"] is True and asset["hash"].startswith("blake3:")
    assert (asset["file_path"], asset["size_bytes"], asset["content_type"]) == (
        "input/bot/photo.png",
        len(picture),
        "image/png",
    )
    assert asset["url"] == f"{stack.api_url}/api/v2/assets/{asset['id']}/content"
    (upload,) = stack.comfy.uploads
    assert (upload.name, upload.subfolder, upload.type, upload.data) == (
        "photo.png",
        "bot",
        "input",
        picture,
    )
    status, again = await api.upload(picture, "other.png")
    assert (status, again["id"], again["created_new"]) == (200, asset["id"], False)
    assert len(stack.comfy.uploads) == 1  # deduplicated by hash in the proxy

    job = await api.submit(img2img(asset_ref(asset["id"]), denoise=0.0))
    assert stack.comfy.prompts[-1].graph["10"]["inputs"]["image"] == "bot/photo.png"
    await stack.comfy.finish()
    done = await api.job(job)
    assert done["status"] == "succeeded"
    _, data = await api.call("GET", done["outputs"][0]["url"], expect=200)
    assert Image.open(io.BytesIO(data)).getpixel((0, 0)) == (0, 0, 250)
    _, content = await api.call("GET", asset["url"], expect=200)
    assert content == picture

    missing = str(uuid.uuid4())
    status, body = await api.call(
        "POST", f"{api.base}/jobs", json={"workflow": img2img(asset_ref(missing))}
    )
    assert status == 422
    assert body["error"]["code"] == "missing_asset"
    assert body["error"]["details"] == {"missing_ids": [missing]}


async def test_cancel_a_running_job_and_a_queued_one(
    api: Api, stack: ComfyApiStack, session: aiohttp.ClientSession
) -> None:
    running = await api.submit(txt2img("one"))
    queued = await api.submit(txt2img("two"))
    async with session.get(running["urls"]["events"], headers=stack.headers) as stream:
        frames = read_sse(stream)
        await anext(frames)
        await stack.comfy.wait_socket(running["id"])
        await stack.comfy.step()
        await stack.comfy.step()
        _, canceling = await api.call("POST", running["urls"]["cancel"], expect=200)
        assert canceling["status"] == "canceling"
        assert (await api.job(running))["status"] == "running"  # until the interrupt lands
        step = await stack.comfy.step()
        assert step.kind == "interrupted"
        events = [e async for e in frames if isinstance(e, SseEvent)]
    assert events[-1] == SseEvent("status", {"status": "canceled"})
    assert (await api.job(running))["status"] == "canceled"
    _, again = await api.call("POST", running["urls"]["cancel"], expect=200)
    assert again["status"] == "canceled"  # idempotent

    # A queued job is removed from ComfyUI's queue without a history entry, so the proxy
    # can only call it "expired", not "canceled".
    _, dequeued = await api.call("POST", queued["urls"]["cancel"], expect=200)
    assert dequeued["status"] == "expired"
    assert stack.comfy.queue.pending == []
    status, body = await api.call("POST", f"{api.base}/jobs/{uuid.uuid4()}/cancel")
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_cancel_is_silently_lost_on_a_comfyui_without_jobs_api(
    api: Api, stack: ComfyApiStack
) -> None:
    job = await api.submit(txt2img())
    await stack.comfy.step()
    stack.comfy.fail_next("/api/jobs/{job_id}/cancel", 404, body={"error": "Not Found"})
    _, body = await api.call("POST", job["urls"]["cancel"], expect=200)
    assert body["status"] == "canceling"
    assert stack.comfy.current is not None and not stack.comfy.current.interrupt_requested
    assert (await stack.comfy.finish()).kind == "success"
    assert (await api.job(job))["status"] == "succeeded"


async def test_an_execution_error_fails_the_job(
    api: Api, stack: ComfyApiStack, session: aiohttp.ClientSession
) -> None:
    job = await api.submit(txt2img())
    async with session.get(job["urls"]["events"], headers=stack.headers) as stream:
        frames = read_sse(stream)
        await anext(frames)
        await stack.comfy.wait_socket(job["id"])
        await stack.comfy.fail(node_id="3", message="CUDA out of memory")
        events = [e async for e in frames if isinstance(e, SseEvent)]
    assert events[-1] == SseEvent("status", {"status": "failed"})  # no error detail in SSE
    failed = await api.job(job)
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "code": "node_execution_error",
        "message": "CUDA out of memory\n",
        "node_id": "3",
        "class_type": "KSampler",
        "traceback": None,
    }


async def test_a_workflow_comfyui_refuses_is_invalid_workflow(
    api: Api, stack: ComfyApiStack
) -> None:
    graph = txt2img()
    graph["3"]["inputs"]["sampler_name"] = "euler_magic"
    status, body = await api.call("POST", f"{api.base}/jobs", json={"workflow": graph})
    assert status == 422
    error = body["error"]
    assert (error["code"], error["message"]) == (
        "invalid_workflow",
        "Prompt outputs failed validation",
    )
    node_error = error["details"]["node_errors"]["3"]
    assert node_error["errors"][0]["type"] == "value_not_in_list"
    status, body = await api.call(
        "POST", f"{api.base}/jobs", json={"workflow": {"nodes": [], "links": []}}
    )
    assert (status, body["error"]["code"]) == (422, "workflow_format_ui")
    status, body = await api.call(
        "POST", f"{api.base}/jobs", json={"workflow": txt2img(), "extra_data": {"x": 1}}
    )
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    await api.submit(
        txt2img(), extra_data={"api_key_comfy_org": "partner-key"}, metadata="chat:42"
    )
    record = stack.comfy.prompts[-1]
    assert record.body["extra_data"] == {"api_key_comfy_org": "partner-key"}
    assert "api_key_comfy_org" not in (record.extra_data or {})  # set apart, not in history


async def test_a_lost_event_socket_falls_back_to_polling(
    api: Api, stack: ComfyApiStack, session: aiohttp.ClientSession
) -> None:
    job = await api.submit(txt2img())
    async with session.get(job["urls"]["events"], headers=stack.headers) as stream:
        frames = read_sse(stream)
        await anext(frames)
        await stack.comfy.wait_socket(job["id"])
        await stack.comfy.step()
        polls = stack.comfy.hits["/queue"]
        assert await stack.comfy.drop_websockets(job["id"]) == 1
        # The proxy polls (/history, then /queue, once a second) instead of reconnecting.
        await stack.comfy.wait_until(lambda: stack.comfy.hits["/queue"] > polls)
        await stack.comfy.finish()
        frames_after = [e async for e in frames]
    events = [e for e in frames_after if isinstance(e, SseEvent)]
    assert [e.event for e in events][-2:] == ["status", "output"]
    assert events[-2].data == {"status": "succeeded"}
    assert any(isinstance(e, SseComment) and e.text == "keepalive" for e in frames_after)
    assert len(stack.comfy.hub.all) == 1  # it never opened another socket


async def test_comfyui_down_is_upstream_unreachable_and_a_restart_expires_jobs(
    api: Api, stack: ComfyApiStack, session: aiohttp.ClientSession
) -> None:
    job = await api.submit(txt2img())
    await stack.comfy.go_down()
    status, body = await api.call("GET", job["urls"]["self"])
    assert (status, body["error"]["code"]) == (503, "upstream_unreachable")
    status, body = await api.call("POST", f"{api.base}/jobs", json={"workflow": txt2img()})
    assert (status, body["error"]["code"]) == (503, "upstream_unreachable")
    async with session.get(f"{api.base}/health") as health:  # no token needed, no upstream call
        assert health.status == 200
        assert (await health.json())["status"] == "healthy"
    await stack.comfy.come_up()  # a fresh ComfyUI process: the queued prompt is gone
    assert (await api.job(job))["status"] == "expired"
    status, body = await api.call("GET", f"{api.base}/jobs/{uuid.uuid4()}")
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_the_token_guards_everything_but_health(
    stack: ComfyApiStack, session: aiohttp.ClientSession
) -> None:
    url = f"{stack.api_url}/api/v2/jobs"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
        async with session.post(url, json={"workflow": txt2img()}, headers=headers) as r:
            assert r.status == 401
            assert (await r.json())["error"]["code"] == "unauthorized"
    assert stack.comfy.prompts == []


async def test_event_streams_are_capped_per_proxy(
    api: Api, stack: ComfyApiStack, session: aiohttp.ClientSession
) -> None:
    jobs = [await api.submit(txt2img(str(i))) for i in range(9)]
    streams = []
    try:
        for job in jobs[:8]:
            response = await session.get(job["urls"]["events"], headers=stack.headers)
            streams.append(response)
            assert response.status == 200
        async with session.get(jobs[8]["urls"]["events"], headers=stack.headers) as refused:
            assert refused.status == 429
            assert refused.headers["Retry-After"] == "5"
            assert (await refused.json())["error"]["code"] == "too_many_streams"
    finally:
        for response in streams:
            response.close()


async def test_previews_become_preview_events() -> None:
    async with (
        ComfyApiStack(mode="manual", previews=True) as stack,
        aiohttp.ClientSession() as session,
    ):
        api = Api(session, stack)
        job = await api.submit(txt2img(steps=2))
        async with session.get(job["urls"]["events"]) as stream:
            frames = read_sse(stream)
            await anext(frames)
            await stack.comfy.wait_socket(job["id"])
            await stack.comfy.finish()
            events = [e async for e in frames if isinstance(e, SseEvent)]
    preview = next(e.data for e in events if e.event == "preview")
    assert (preview["node_id"], preview["content_type"]) == ("3", "image/png")
    assert preview["data_base64"]


async def test_the_proxy_command_line_in_front_of_the_fake() -> None:
    async with (
        ComfyApiStack(token="cli-token", proxy="subprocess") as stack,
        aiohttp.ClientSession() as session,
    ):
        api = Api(session, stack)
        job = await api.submit(txt2img("from the cli"), key="cli-1")
        await stack.comfy.wait_done(job["id"])
        done = await api.job(job)
        assert done["status"] == "succeeded"
        _, data = await api.call("GET", done["outputs"][0]["url"], expect=200)
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        async with session.get(job["urls"]["self"]) as anonymous:
            assert anonymous.status == 401


async def test_a_job_ending_between_the_proxys_two_lookups_reads_as_expired(
    api: Api, stack: ComfyApiStack, session: aiohttp.ClientSession
) -> None:
    """comfy-api-proxy 0.1.6 reads /history, then /queue: a job that finishes in between is in
    neither and is reported "expired", a terminal status, though it succeeded."""
    job = await api.submit(txt2img())
    await stack.comfy.step()
    gate = stack.comfy.hold_next("/queue")
    poll = asyncio.ensure_future(api.job(job))
    await stack.comfy.wait_until(lambda: stack.comfy.faults.held["/queue"] == 1)
    await stack.comfy.finish()
    gate.set()
    assert (await poll)["status"] == "expired"
    assert (await api.job(job))["status"] == "succeeded"
