"""A Comfy API v2 server that will not take a run now: out of credits (402), queue full (429
with Retry-After), or an answer lost on the way. comfy-api-proxy never sends 402 or 429 for a
job, so a small server on 127.0.0.1 answers those the way the v2 contract documents
(https://docs.comfy.org/development/cloud/api-reference); the lost answer uses the real proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from adapters.comfyapi import ComfyApiBackend, ComfyApiClient
from core.models import RunStatus
from core.policy import RunPolicy
from tests.e2e.comfyapi_rig import TOKEN, ComfyApiRig, write_workflows
from tests.e2e.harness import world
from tests.fakes.comfyui_stack import ComfyApiStack

LOCATE_AFTER_S = RunPolicy.locate_after.total_seconds()
GIVE_UP_S = RunPolicy.pending_give_up.total_seconds()
"""When the engine looks for a run whose submit got no answer, and when it gives up."""


@dataclass
class Answer:
    status: int
    code: str
    retry_after: str | None = None


@dataclass
class RefusingApi:
    """`POST /api/v2/jobs` answers the queued `answers` in turn, then creates a job."""

    answers: list[Answer] = field(default_factory=list)
    bodies: list[Any] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def submit(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        self.keys.append(request.headers.get("Idempotency-Key"))
        if self.answers:
            answer = self.answers.pop(0)
            headers = {"Retry-After": answer.retry_after} if answer.retry_after else {}
            error = {"code": answer.code, "message": f"{answer.code} (test)", "details": None}
            return web.json_response({"error": error}, status=answer.status, headers=headers)
        job = {"id": "job-1", "status": "queued", "outputs": [], "error": None}
        return web.json_response(job, status=201)

    async def job(self, request: web.Request) -> web.Response:
        return web.json_response({"id": request.match_info["id"], "status": "queued"})

    async def __aenter__(self) -> RefusingApi:
        app = web.Application()
        app.router.add_post("/api/v2/jobs", self.submit)
        app.router.add_get("/api/v2/jobs/{id}", self.job)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def api() -> AsyncIterator[RefusingApi]:
    async with RefusingApi() as running:
        yield running


def backend_for(api: RefusingApi, folder: Path, waits: list[float]) -> ComfyApiBackend:
    async def record(seconds: float) -> None:
        waits.append(seconds)

    client = ComfyApiClient(api.url, "cloud-key", timeout_s=5, sleep=record)
    return ComfyApiBackend(client, folder, None)


async def test_out_of_credits_is_said_in_plain_words(
    mongo_uri: str, tmp_path: Path, api: RefusingApi
) -> None:
    api.answers.append(Answer(402, "insufficient_credits"))
    backend = backend_for(api, write_workflows(tmp_path / "workflows"), [])
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[backend]) as bot:
        await bot.say("/txt2img a fox")
        run = await bot.last_run()
        assert run.status is RunStatus.FAILED and run.error == "submit.no_credits"
        assert "the GPU service account is out of credits" in bot.seen()
        assert "cloud-key" not in bot.seen()
        assert len(api.bodies) == 1


async def test_a_short_retry_after_is_waited_then_the_job_is_made(
    mongo_uri: str, tmp_path: Path, api: RefusingApi
) -> None:
    api.answers.append(Answer(429, "queue_full", retry_after="3"))
    waits: list[float] = []
    backend = backend_for(api, write_workflows(tmp_path / "workflows"), waits)
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[backend]) as bot:
        await bot.say("/txt2img a fox")
        run = await bot.last_run()
        assert run.status in (RunStatus.NOT_STARTED, RunStatus.QUEUED)
        assert run.backend_run_id == "job-1"
        assert waits == [3.0]
        assert api.keys[0] == api.keys[1] and api.keys[0] is not None
        assert run.id in api.keys[0]


async def test_a_full_queue_with_a_long_wait_is_said_in_plain_words(
    mongo_uri: str, tmp_path: Path, api: RefusingApi
) -> None:
    api.answers.append(Answer(429, "queue_full", retry_after="120"))
    waits: list[float] = []
    backend = backend_for(api, write_workflows(tmp_path / "workflows"), waits)
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[backend]) as bot:
        await bot.say("/txt2img a fox")
        run = await bot.last_run()
        assert run.status is RunStatus.FAILED and run.error == "submit.busy"
        assert "the GPU service is busy (its queue is full)" in bot.seen()
        assert waits == [] and len(api.bodies) == 1


async def test_a_lost_answer_is_never_sent_again_and_ends_when_nothing_is_found(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with ComfyApiStack(mode="manual", token=TOKEN) as stack:
        rig = ComfyApiRig(stack, write_workflows(tmp_path / "workflows"))
        backend = rig.backend()
        async with world(mongo_uri, tmp_path) as w, w.engine(backends=[backend]) as bot:
            # ComfyUI queues the prompt but its answer to the proxy is lost: 503, key held,
            # and the proxy never learns the job's id, so nobody can find it.
            stack.comfy.drop_next("/prompt", handled=True)
            await bot.say("/txt2img a fox")
            run = await bot.last_run()
            assert run.status is RunStatus.PENDING  # it may be on the backend
            assert len(stack.comfy.prompts) == 1  # not sent again, nor elsewhere
            w.clock.advance(LOCATE_AFTER_S + 1)
            await bot.container.dispatcher.settle_pending()
            assert (await bot.last_run()).status is RunStatus.PENDING
            w.clock.advance(GIVE_UP_S)
            await bot.container.dispatcher.settle_pending()
            await bot.settle()
            ended = await bot.last_run()
            assert ended.status is RunStatus.FAILED and ended.error == "submit.unknown"
            assert len(stack.comfy.prompts) == 1


async def test_an_answer_lost_in_flight_is_found_by_the_jobs_label(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with ComfyApiStack(mode="manual", token=TOKEN) as stack:
        folder = write_workflows(tmp_path / "workflows")
        client = ComfyApiClient(stack.api_url, TOKEN, timeout_s=0.3)
        backend = ComfyApiBackend(client, folder, 0.0)
        async with world(mongo_uri, tmp_path) as w, w.engine(backends=[backend]) as bot:
            gate = stack.comfy.hold_next("/prompt")  # the proxy waits on ComfyUI; we time out
            await bot.say("/txt2img a fox")
            run = await bot.last_run()
            assert run.status is RunStatus.PENDING and run.backend_run_id is None
            gate.set()
            job = await stack.comfy.wait_for_prompt()
            w.clock.advance(LOCATE_AFTER_S + 1)
            assert await bot.container.dispatcher.settle_pending() == 1
            found = await bot.last_run()
            assert found.status is RunStatus.NOT_STARTED
            assert found.backend_run_id == job.prompt_id
            assert len(stack.comfy.prompts) == 1
