"""The fake ComfyUI answers over HTTP and WebSocket the way ComfyUI's server does."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.fakes.comfyui_files import colour_for, solid_png
from tests.fakes.comfyui_graphs import failing, img2img, txt2img
from tests.fakes.comfyui_server import FakeComfyUI

JsonDict = dict[str, Any]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def comfy() -> AsyncIterator[FakeComfyUI]:
    async with FakeComfyUI() as fake:
        yield fake


@pytest.fixture
async def manual() -> AsyncIterator[FakeComfyUI]:
    async with FakeComfyUI(mode="manual") as fake:
        yield fake


async def post_prompt(
    session: aiohttp.ClientSession, fake: FakeComfyUI, graph: JsonDict, **body: Any
) -> tuple[int, JsonDict]:
    async with session.post(f"{fake.base_url}/prompt", json={"prompt": graph, **body}) as r:
        return r.status, await r.json()


async def get_json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def open_ws(
    session: aiohttp.ClientSession, fake: FakeComfyUI, client_id: str
) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(f"{fake.base_url}/ws?clientId={client_id}")
    hello = await ws.receive_json()
    assert hello == {
        "type": "status",
        "data": {"status": hello["data"]["status"], "sid": client_id},
    }
    await ws.send_json({"type": "feature_flags", "data": {"supports_preview_metadata": True}})
    assert (await ws.receive_json())["type"] == "feature_flags"
    return ws


async def until_idle(ws: aiohttp.ClientWebSocketResponse, prompt_id: str) -> list[JsonDict]:
    """Messages up to and including `executing` with `node: null` for the prompt."""
    messages = []
    while True:
        message = await ws.receive_json()
        messages.append(message)
        data = message["data"]
        if message["type"] == "executing" and data["node"] is None:
            assert data["prompt_id"] == prompt_id
            return messages


def kinds(messages: list[JsonDict]) -> list[str]:
    return [m["type"] for m in messages]


# -- POST /prompt and validation ---------------------------------------------------------------


async def test_prompt_is_queued_and_recorded_under_both_route_spellings(
    manual: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    status, body = await post_prompt(session, manual, txt2img(), client_id="c1")
    assert status == 200
    assert body == {"prompt_id": body["prompt_id"], "number": 0, "node_errors": {}}
    uuid.UUID(body["prompt_id"])
    async with session.post(f"{manual.base_url}/api/prompt", json={"prompt": txt2img()}) as r:
        assert (await r.json())["number"] == 1
    record = manual.prompts[0]
    assert record.graph == txt2img()
    assert record.client_id == "c1"
    queue = await get_json(session, f"{manual.base_url}/api/queue")
    assert queue["queue_running"] == []
    assert [item[1] for item in queue["queue_pending"]] == [p.prompt_id for p in manual.prompts]
    number, _prompt_id, graph, extra_data, outputs = queue["queue_pending"][0]
    assert (number, graph["3"]["class_type"], outputs) == (0, "KSampler", ["9"])
    assert extra_data["client_id"] == "c1" and isinstance(extra_data["create_time"], int)
    assert await get_json(session, f"{manual.base_url}/prompt") == {
        "exec_info": {"queue_remaining": 2}
    }


async def test_a_client_prompt_id_must_be_a_canonical_lowercase_uuid(
    manual: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    mine = str(uuid.uuid4())
    status, body = await post_prompt(session, manual, txt2img(), prompt_id=mine)
    assert (status, body["prompt_id"]) == (200, mine)
    for bad in (mine.upper(), mine.replace("-", ""), "job-1", 42):
        status, body = await post_prompt(session, manual, txt2img(), prompt_id=bad)
        assert status == 400
        assert body["error"]["type"] == "invalid_prompt_id"
        assert body["node_errors"] == {}
    assert [s.status for s in manual.submissions] == [200, 400, 400, 400, 400]


async def test_unknown_node_class_and_missing_outputs_are_refused(
    comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    graph = txt2img()
    graph["9"]["class_type"] = "SaveAnimatedWEBP_Missing"
    status, body = await post_prompt(session, comfy, graph)
    assert status == 400
    assert body["error"]["type"] == "missing_node_type"
    assert body["error"]["extra_info"]["class_type"] == "SaveAnimatedWEBP_Missing"
    assert body["error"]["message"].endswith("The custom node may not be installed.")

    graph = txt2img()
    del graph["9"]
    status, body = await post_prompt(session, comfy, graph)
    assert (status, body["error"]["type"]) == (400, "prompt_no_outputs")
    status, body = await post_prompt(session, comfy, {"1": {"inputs": {}}})
    assert (status, body["error"]["type"]) == (400, "missing_node_type")
    async with session.post(f"{comfy.base_url}/prompt", json={"client_id": "x"}) as r:
        assert r.status == 400 and (await r.json())["error"]["type"] == "no_prompt"
    assert comfy.prompts == []


async def test_input_errors_are_listed_per_node(
    comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    graph = txt2img()
    del graph["3"]["inputs"]["seed"]
    graph["3"]["inputs"]["sampler_name"] = "euler_magic"
    graph["3"]["inputs"]["steps"] = 0
    graph["5"]["inputs"]["width"] = "wide"
    status, body = await post_prompt(session, comfy, graph)
    assert status == 400
    assert body["error"]["type"] == "prompt_outputs_failed_validation"
    errors = {n: [e["type"] for e in v["errors"]] for n, v in body["node_errors"].items()}
    assert errors == {
        "3": ["required_input_missing", "value_smaller_than_min", "value_not_in_list"],
        "5": ["invalid_input_type"],
    }
    assert body["node_errors"]["3"]["class_type"] == "KSampler"
    assert body["node_errors"]["3"]["dependent_outputs"] == ["9"]
    not_in_list = body["node_errors"]["3"]["errors"][2]
    assert not_in_list["details"].startswith("sampler_name: 'euler_magic' not in [")

    graph = txt2img()
    graph["8"]["inputs"]["samples"] = ["4", 0]  # a MODEL where a LATENT belongs
    status, body = await post_prompt(session, comfy, graph)
    assert body["node_errors"]["8"]["errors"][0]["type"] == "return_type_mismatch"


async def test_a_missing_input_image_fails_loadimage_validation(
    comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    status, body = await post_prompt(session, comfy, img2img("nowhere.png"))
    assert status == 400
    (error,) = body["node_errors"]["10"]["errors"]
    assert error["type"] == "custom_validation_failed"
    assert error["details"] == "image - Invalid image file: nowhere.png"


async def test_one_broken_output_does_not_stop_the_others(
    manual: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    graph = txt2img()
    graph["20"] = {"class_type": "PreviewImage", "inputs": {"images": ["21", 0]}}
    graph["21"] = {"class_type": "LoadImage", "inputs": {"image": "gone.png"}}
    status, body = await post_prompt(session, manual, graph)
    assert status == 200
    assert list(body["node_errors"]) == ["21"]
    assert manual.queue.pending[0].outputs == ["9"]


async def test_values_are_converted_to_their_input_type(
    manual: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    graph = txt2img()
    graph["3"]["inputs"]["seed"] = "42"
    graph["3"]["inputs"]["cfg"] = 6
    await post_prompt(session, manual, graph)
    queued = manual.queue.pending[0].prompt["3"]["inputs"]
    assert (queued["seed"], queued["cfg"]) == (42, 6.0)
    assert manual.prompts[0].graph["3"]["inputs"]["seed"] == "42"  # as received


# -- WebSocket events and history --------------------------------------------------------------


async def test_a_run_sends_comfyui_events_to_its_own_client_only(
    comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    mine = await open_ws(session, comfy, "mine")
    other = await open_ws(session, comfy, "other")
    _status, body = await post_prompt(session, comfy, txt2img(steps=3), client_id="mine")
    prompt_id = body["prompt_id"]
    messages = await until_idle(mine, prompt_id)
    sequence = [k for k in kinds(messages) if k not in ("progress_state", "status")]
    assert sequence == [
        "execution_start",
        "execution_cached",
        *["executing"] * 5,  # 4 checkpoint, 6 and 7 prompts, 5 latent, 3 sampler
        "progress",
        "progress",
        "progress",
        "executing",  # 8 decode
        "executing",  # 9 save
        "executed",
        "execution_success",
        "executing",  # node: null
    ]
    executing = [m["data"]["node"] for m in messages if m["type"] == "executing"]
    assert executing == ["4", "6", "7", "5", "3", "8", "9", None]
    progress = [m["data"] for m in messages if m["type"] == "progress"]
    assert progress[-1] == {"value": 3, "max": 3, "prompt_id": prompt_id, "node": "3"}
    executed = next(m["data"] for m in messages if m["type"] == "executed")
    assert executed["output"] == {
        "images": [{"filename": "ComfyUI_00001_.png", "subfolder": "", "type": "output"}]
    }
    state = [m["data"] for m in messages if m["type"] == "progress_state"][-1]
    assert state["nodes"]["9"]["state"] == "finished"
    # The other client hears only the queue size changing.
    await comfy.wait_done(prompt_id)
    seen = comfy.hub.by_sid["other"].sent
    assert {m["type"] for m in seen} == {"status", "feature_flags"}
    await mine.close()
    await other.close()


async def test_without_client_id_only_progress_is_broadcast(
    comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    ws = await open_ws(session, comfy, "watcher")
    _status, body = await post_prompt(session, comfy, txt2img(steps=2))
    await comfy.wait_done(body["prompt_id"])
    types = {m["type"] for m in comfy.hub.by_sid["watcher"].sent}
    assert types == {"status", "feature_flags", "progress", "progress_state"}
    await ws.close()


async def test_history_is_empty_until_the_prompt_is_done(
    manual: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    _status, body = await post_prompt(session, manual, txt2img(seed=5), client_id="c")
    prompt_id = body["prompt_id"]
    url = f"{manual.base_url}/history/{prompt_id}"
    assert await get_json(session, url) == {}
    job = await get_json(session, f"{manual.base_url}/api/jobs/{prompt_id}")
    assert (job["status"], job["workflow"]["extra_data"]["client_id"]) == ("pending", "c")
    assert (await manual.step()).kind == "start"
    assert (await manual.step()).node_id == "4"
    queue = await get_json(session, f"{manual.base_url}/queue")
    assert [item[1] for item in queue["queue_running"]] == [prompt_id]
    assert (await get_json(session, f"{manual.base_url}/api/jobs/{prompt_id}"))["status"] == (
        "in_progress"
    )
    assert await get_json(session, url) == {}
    assert (await manual.finish()).kind == "success"

    entry = (await get_json(session, url))[prompt_id]
    number, pid, _graph, _extra_data, outputs = entry["prompt"]
    assert (number, pid, outputs) == (0, prompt_id, ["9"])
    assert entry["outputs"] == {
        "9": {"images": [{"filename": "ComfyUI_00001_.png", "subfolder": "", "type": "output"}]}
    }
    assert entry["status"]["status_str"] == "success" and entry["status"]["completed"] is True
    assert [m[0] for m in entry["status"]["messages"]] == [
        "execution_start",
        "execution_cached",
        "execution_success",
    ]
    assert entry["meta"]["9"] == {
        "node_id": "9",
        "display_node": "9",
        "parent_node": None,
        "real_node_id": "9",
    }
    job = await get_json(session, f"{manual.base_url}/api/jobs/{prompt_id}")
    assert job["status"] == "completed"
    assert job["outputs"] == entry["outputs"]
    assert job["preview_output"]["filename"] == "ComfyUI_00001_.png"
    assert prompt_id in await get_json(session, f"{manual.base_url}/history?max_items=5")


async def test_jobs_list_filters_sorts_and_pages(
    comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    for text in ("a", "b", "c"):
        _status, body = await post_prompt(session, comfy, txt2img(text))
        await comfy.wait_done(body["prompt_id"])
    _status, body = await post_prompt(session, comfy, failing())
    await comfy.wait_done(body["prompt_id"])
    listing = await get_json(session, f"{comfy.base_url}/api/jobs?status=completed&limit=2")
    assert [j["status"] for j in listing["jobs"]] == ["completed", "completed"]
    assert listing["pagination"] == {"offset": 0, "limit": 2, "total": 3, "has_more": True}
    failed = await get_json(session, f"{comfy.base_url}/api/jobs?status=failed")
    assert failed["jobs"][0]["execution_error"]["node_id"] == "12"
    async with session.get(f"{comfy.base_url}/api/jobs?status=done") as r:
        assert r.status == 400
    async with session.get(f"{comfy.base_url}/api/jobs/{uuid.uuid4()}") as r:
        assert (r.status, await r.json()) == (404, {"error": "Job not found"})


# -- files -------------------------------------------------------------------------------------


async def test_outputs_are_real_pngs_coloured_by_seed_and_prompt(
    comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    _status, body = await post_prompt(session, comfy, txt2img("a red fox", seed=9, width=48))
    entry = await comfy.wait_done(body["prompt_id"])
    image = entry["outputs"]["9"]["images"][0]
    async with session.get(f"{comfy.base_url}/view", params=image) as r:
        assert r.status == 200 and r.content_type == "image/png"
        data = await r.read()
    picture = Image.open(io.BytesIO(data))
    assert picture.size == (48, 64)
    assert picture.getpixel((3, 3)) == colour_for(9, "a red fox")
    assert '"KSampler"' in picture.text["prompt"]  # type: ignore[attr-defined]
    ranged = {"Range": "bytes=0-7"}
    async with session.get(f"{comfy.base_url}/api/view", params=image, headers=ranged) as r:
        assert (r.status, await r.read()) == (206, data[:8])
    missing = {**image, "filename": "nope.png"}
    async with session.get(f"{comfy.base_url}/view", params=missing) as r:
        assert r.status == 404
    async with session.get(f"{comfy.base_url}/view", params={"filename": "../x.png"}) as r:
        assert r.status == 400


async def test_uploads_follow_comfyui_naming_rules(
    comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    async def upload(data: bytes, **fields: str) -> JsonDict:
        form = aiohttp.FormData()
        form.add_field("image", data, filename="photo.png", content_type="image/png")
        for key, value in fields.items():
            form.add_field(key, value)
        async with session.post(f"{comfy.base_url}/upload/image", data=form) as r:
            assert r.status == 200, await r.text()
            return dict(await r.json())

    red, blue, green = solid_png(8, 8, "red"), solid_png(8, 8, "blue"), solid_png(8, 8, "green")
    assert await upload(red) == {"name": "photo.png", "subfolder": "", "type": "input"}
    assert (await upload(red))["name"] == "photo.png"  # same bytes: reused
    assert (await upload(blue))["name"] == "photo (1).png"
    assert (await upload(green))["name"] == "photo (2).png"
    assert (await upload(green, overwrite="true"))["name"] == "photo.png"
    assert (await upload(red, subfolder="bot"))["subfolder"] == "bot"
    file = comfy.file("input", "photo.png")
    assert file is not None and file.data == green
    assert [u.duplicate for u in comfy.uploads] == [False, True, False, False, False, False]
    info = await get_json(session, f"{comfy.base_url}/object_info/LoadImage")
    assert info["LoadImage"]["input"]["required"]["image"][0] == [
        "photo (1).png",
        "photo (2).png",
        "photo.png",
    ]
    form = aiohttp.FormData()
    form.add_field("subfolder", "x")
    async with session.post(f"{comfy.base_url}/upload/image", data=form) as r:
        assert r.status == 400


async def test_img2img_reads_the_uploaded_image(
    comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    comfy.add_input("in.png", solid_png(32, 32, (200, 0, 0)), subfolder="bot")
    status, body = await post_prompt(session, comfy, img2img("bot/in.png", denoise=0.0))
    assert status == 200, body
    entry = await comfy.wait_done(body["prompt_id"])
    saved = entry["outputs"]["9"]["images"][0]
    file = comfy.file("output", saved["filename"])
    assert file is not None
    picture = Image.open(io.BytesIO(file.data))
    assert picture.size == (32, 32) and picture.getpixel((0, 0)) == (200, 0, 0)


# -- manual control, errors, interrupts --------------------------------------------------------


async def test_fail_reports_an_execution_error_at_the_chosen_node(
    manual: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    ws = await open_ws(session, manual, "c")
    _status, body = await post_prompt(session, manual, txt2img(), client_id="c")
    prompt_id = body["prompt_id"]
    step = await manual.fail(node_id="3", message="CUDA out of memory")
    assert (step.kind, step.node_id) == ("error", "3")
    messages = await until_idle(ws, prompt_id)
    error = next(m["data"] for m in messages if m["type"] == "execution_error")
    assert error["node_id"] == "3" and error["node_type"] == "KSampler"
    assert error["exception_message"] == "CUDA out of memory\n"
    assert error["exception_type"] == "RuntimeError"
    assert error["executed"] == ["4", "6", "7", "5"]
    assert isinstance(error["traceback"], list)
    assert error["current_inputs"]["seed"] == [7]
    entry = manual.history[prompt_id]
    assert entry["status"]["status_str"] == "error" and entry["outputs"] == {}
    assert "execution_success" not in kinds(messages)
    await ws.close()


async def test_a_failing_node_raises_its_message(
    comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    _status, body = await post_prompt(session, comfy, failing("no more VRAM"))
    entry = await comfy.wait_done(body["prompt_id"])
    event, error = entry["status"]["messages"][-1]
    assert event == "execution_error"
    assert (error["node_id"], error["exception_message"]) == ("12", "no more VRAM\n")


async def test_interrupt_lands_at_the_next_step(
    manual: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    _status, body = await post_prompt(session, manual, txt2img(), client_id="c")
    prompt_id = body["prompt_id"]
    await manual.step()
    await manual.step()
    async with session.post(f"{manual.base_url}/interrupt", json={"prompt_id": "other"}) as r:
        assert r.status == 200
    assert manual.current is not None and not manual.current.interrupt_requested
    async with session.post(f"{manual.base_url}/interrupt") as r:
        assert r.status == 200
    step = await manual.step()
    assert (step.kind, step.node_id) == ("interrupted", "6")
    entry = manual.history[prompt_id]
    assert entry["status"]["status_str"] == "error"
    assert entry["status"]["messages"][-1][0] == "execution_interrupted"
    job = await get_json(session, f"{manual.base_url}/api/jobs/{prompt_id}")
    assert job["status"] == "cancelled"


async def test_jobs_cancel_interrupts_running_and_dequeues_pending(
    manual: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    first = (await post_prompt(session, manual, txt2img("one")))[1]["prompt_id"]
    second = (await post_prompt(session, manual, txt2img("two")))[1]["prompt_id"]
    await manual.step(first)

    async def cancel(job_id: str) -> bool:
        async with session.post(f"{manual.base_url}/api/jobs/{job_id}/cancel") as r:
            return bool((await r.json())["cancelled"])

    assert await cancel(second) is True
    assert manual.queue.pending == []
    assert second not in manual.history  # a dequeued prompt leaves no trace
    assert await cancel(first) is True
    assert (await manual.step()).kind == "interrupted"
    assert await cancel(first) is False  # finished: a no-op
    assert await cancel(str(uuid.uuid4())) is False
    async with session.post(f"{manual.base_url}/api/jobs/cancel", json={"job_ids": ["x"]}) as r:
        assert r.status == 400


async def test_queue_delete_and_clear_remove_pending_prompts(
    manual: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    ids = [(await post_prompt(session, manual, txt2img(t)))[1]["prompt_id"] for t in "abc"]
    async with session.post(f"{manual.base_url}/queue", json={"delete": [ids[1]]}) as r:
        assert r.status == 200
    assert [i.prompt_id for i in manual.queue.pending] == [ids[0], ids[2]]
    async with session.post(f"{manual.base_url}/queue", json={"clear": True}) as r:
        assert r.status == 200
    assert manual.queue.pending == []


async def test_front_prompts_run_first(
    manual: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    later = (await post_prompt(session, manual, txt2img("later")))[1]["prompt_id"]
    urgent = (await post_prompt(session, manual, txt2img("urgent"), front=True))[1]
    assert urgent["number"] == -1
    assert (await manual.finish()).prompt_id == urgent["prompt_id"]
    assert (await manual.finish()).prompt_id == later


async def test_unchanged_nodes_are_cached_and_outputs_reported_again(
    comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    ws = await open_ws(session, comfy, "c")
    first = (await post_prompt(session, comfy, txt2img(), client_id="c"))[1]["prompt_id"]
    await until_idle(ws, first)
    second = (await post_prompt(session, comfy, txt2img(), client_id="c"))[1]["prompt_id"]
    messages = await until_idle(ws, second)
    cached = next(m["data"] for m in messages if m["type"] == "execution_cached")
    assert sorted(cached["nodes"]) == ["3", "4", "5", "6", "7", "8", "9"]
    assert [m["data"]["node"] for m in messages if m["type"] == "executing"] == [None]
    assert comfy.history[second]["outputs"] == comfy.history[first]["outputs"]
    third = (await post_prompt(session, comfy, txt2img(seed=8), client_id="c"))[1]["prompt_id"]
    messages = await until_idle(ws, third)
    ran = [m["data"]["node"] for m in messages if m["type"] == "executing"]
    assert ran == ["3", "8", "9", None]
    await ws.close()


# -- faults, restarts, information --------------------------------------------------------------


async def test_route_faults_fail_or_drop_the_next_requests(
    comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    comfy.fail_next("/prompt", 503, count=2, body={"error": "busy"})
    for _ in range(2):
        async with session.post(f"{comfy.base_url}/api/prompt", json={"prompt": txt2img()}) as r:
            assert (r.status, await r.json()) == (503, {"error": "busy"})
    # aiohttp silently retries an idempotent request once when a reused connection drops.
    comfy.drop_next("/history/{prompt_id}", count=2)
    with pytest.raises(aiohttp.ClientError):
        async with session.get(f"{comfy.base_url}/history/x") as r:
            await r.read()
    comfy.drop_next("/prompt", handled=True)
    with pytest.raises(aiohttp.ClientError):
        async with session.post(f"{comfy.base_url}/prompt", json={"prompt": txt2img()}) as r:
            await r.read()
    assert len(comfy.prompts) == 1  # queued, though the answer was lost
    status, _body = await post_prompt(session, comfy, txt2img())
    assert status == 200
    assert comfy.hits["/prompt"] == 4 and comfy.hits["/history/{prompt_id}"] == 2


async def test_a_dropped_socket_and_a_taken_over_client_id(
    manual: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    old = await open_ws(session, manual, "c")
    new = await open_ws(session, manual, "c")
    _status, _body = await post_prompt(session, manual, txt2img(), client_id="c")
    await manual.step()
    assert "execution_start" in kinds(manual.hub.by_sid["c"].sent)
    assert "execution_start" not in kinds(manual.hub.all[0].sent)  # taken over, still open
    assert not old.closed
    assert await manual.drop_websockets("c") == 1
    frames = [message async for message in new]  # what was in flight, then the end
    assert new.closed and all(f.type == aiohttp.WSMsgType.TEXT for f in frames)
    # Reconnecting mid-run tells the client which node is executing.
    await manual.step()
    again = await session.ws_connect(f"{manual.base_url}/ws?clientId=c")
    assert (await again.receive_json())["type"] == "status"
    assert await again.receive_json() == {"type": "executing", "data": {"node": "4"}}
    await again.close()
    await old.close()


async def test_restart_loses_queue_and_history_but_keeps_files(
    comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    _status, body = await post_prompt(session, comfy, txt2img())
    entry = await comfy.wait_done(body["prompt_id"])
    image = entry["outputs"]["9"]["images"][0]
    port = comfy.port
    await comfy.restart(keep_state=True)
    assert comfy.port == port
    assert body["prompt_id"] in await get_json(session, f"{comfy.base_url}/history")
    await comfy.restart()
    assert await get_json(session, f"{comfy.base_url}/history") == {}
    async with session.get(f"{comfy.base_url}/view", params=image) as r:
        assert r.status == 200
    _status, body = await post_prompt(session, comfy, txt2img())
    assert body["number"] == 0
    await comfy.go_down()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with session.get(f"{comfy.base_url}/queue"):
            pass
    await comfy.come_up(keep_files=False)
    async with session.get(f"{comfy.base_url}/view", params=image) as r:
        assert r.status == 404


async def test_object_info_and_system_stats_describe_the_server(
    comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    info = await get_json(session, f"{comfy.base_url}/object_info")
    assert {
        "CheckpointLoaderSimple",
        "CLIPTextEncode",
        "EmptyLatentImage",
        "EmptySD3LatentImage",
        "KSampler",
        "VAEDecode",
        "SaveImage",
        "PreviewImage",
        "LoadImage",
        "ImageScale",
        "ImageScaleBy",
        "PrimitiveString",
        "PrimitiveInt",
        "PrimitiveFloat",
        "PrimitiveBoolean",
        "FakeRaiseError",
    } <= set(info)
    sampler = info["KSampler"]
    assert sampler["input"]["required"]["steps"] == [
        "INT",
        {"default": 20, "min": 1, "max": 10000},
    ]
    assert "euler" in sampler["input"]["required"]["sampler_name"][0]
    assert sampler["input_order"]["required"][:2] == ["model", "seed"]
    assert (sampler["output"], sampler["output_node"]) == (["LATENT"], False)
    assert info["SaveImage"]["output_node"] is True
    assert info["PrimitiveInt"]["python_module"] == "comfy_extras.nodes_primitive"
    assert await get_json(session, f"{comfy.base_url}/object_info/Nope") == {}
    stats = await get_json(session, f"{comfy.base_url}/api/system_stats")
    assert "comfyui_version" in stats["system"] and stats["devices"][0]["type"] == "cpu"
    assert await get_json(session, f"{comfy.base_url}/models/checkpoints") == comfy.env.checkpoints
