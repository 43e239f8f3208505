"""The Comfy API v2 client against the real comfy-api-proxy (in front of the fake ComfyUI):
single-use idempotency keys, unclear answers, unknown jobs, the token and where it goes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from adapters.comfyapi import ComfyApiClient
from core.errors import BackendError, BackendUnavailable, OutcomeUnknown, RunNotFound
from tests.fakes.attachments import png
from tests.fakes.comfyui_graphs import txt2img
from tests.fakes.comfyui_stack import ComfyApiStack

TOKEN = "unit-token"


async def no_wait(seconds: float) -> None:
    return None


@pytest.fixture
async def stack() -> AsyncIterator[ComfyApiStack]:
    async with ComfyApiStack(mode="manual", token=TOKEN) as running:
        yield running


@pytest.fixture
async def client(stack: ComfyApiStack) -> AsyncIterator[ComfyApiClient]:
    api = ComfyApiClient(stack.api_url, TOKEN, timeout_s=5, sleep=no_wait)
    yield api
    await api.close()


async def test_a_repeated_submit_finds_its_job_instead_of_making_another(
    client: ComfyApiClient, stack: ComfyApiStack
) -> None:
    first = await client.submit(txt2img(), key="comfybot:r1:txt2img", label="comfybot:r1:txt2img")
    again = await client.submit(txt2img(), key="comfybot:r1:txt2img", label="comfybot:r1:txt2img")
    assert again["id"] == first["id"] and again["metadata"] == "comfybot:r1:txt2img"
    assert len(stack.comfy.prompts) == 1


async def test_a_lost_answer_stays_unknown_and_comfyui_down_is_unavailable(
    client: ComfyApiClient, stack: ComfyApiStack
) -> None:
    stack.comfy.drop_next("/prompt", handled=True)
    with pytest.raises(OutcomeUnknown):
        await client.submit(txt2img(), key="k1", label="comfybot:k1:txt2img")
    assert len(stack.comfy.prompts) == 1
    await stack.comfy.go_down()
    with pytest.raises(BackendUnavailable) as down:
        await client.submit(txt2img(), key="k2", label="comfybot:k2:txt2img")
    assert not isinstance(down.value, OutcomeUnknown) and down.value.status == 503
    with pytest.raises(BackendUnavailable):
        await client.check_access()
    assert await client.ping()  # the proxy's health knows nothing of ComfyUI


async def test_a_workflow_comfyui_refuses_without_a_reason_may_go_elsewhere(
    client: ComfyApiClient, stack: ComfyApiStack
) -> None:
    stack.comfy.fail_next("/prompt", 500)
    with pytest.raises(BackendUnavailable) as blind:
        await client.submit(txt2img(), key="b1", label="comfybot:b1:txt2img")
    assert not isinstance(blind.value, OutcomeUnknown)
    graph = txt2img()
    graph["3"]["inputs"]["sampler_name"] = "euler_magic"
    with pytest.raises(BackendError) as wrong:
        await client.submit(graph, key="b2", label="comfybot:b2:txt2img")
    assert not wrong.value.retryable and "Prompt outputs failed validation" in str(wrong.value)
    assert stack.comfy.prompts == []


async def test_unknown_jobs_are_not_found(client: ComfyApiClient) -> None:
    with pytest.raises(RunNotFound):
        await client.get_job("00000000-0000-4000-8000-00000000beef")
    with pytest.raises(RunNotFound):
        await client.cancel("00000000-0000-4000-8000-00000000beef")
    with pytest.raises(RunNotFound):
        await client.get_job("../health")


async def test_a_wrong_token_is_refused_without_being_repeated(stack: ComfyApiStack) -> None:
    wrong = ComfyApiClient(stack.api_url, "wrong-token", timeout_s=5, sleep=no_wait)
    try:
        with pytest.raises(BackendUnavailable) as refused:
            await wrong.check_access()
        assert "refused" in str(refused.value) and "wrong-token" not in str(refused.value)
    finally:
        await wrong.close()


async def test_the_same_picture_is_one_asset(client: ComfyApiClient, stack: ComfyApiStack) -> None:
    picture = png((8, 8))
    first = await client.upload("a.png", "image/png", picture)
    second = await client.upload("b.png", "image/png", picture)
    assert first == second and len(stack.comfy.uploads) == 1


async def test_the_token_goes_to_the_apis_own_origin_only(
    client: ComfyApiClient, tmp_path: Path
) -> None:
    seen: list[str | None] = []

    async def elsewhere(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.Response(body=png())

    app = web.Application()
    app.router.add_get("/file.png", elsewhere)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/file.png"
        assert await client.download(url, tmp_path / "o.png", 1_000_000) == len(png())
    finally:
        await runner.cleanup()
    assert seen == [None]
