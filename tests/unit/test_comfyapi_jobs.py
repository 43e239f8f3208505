"""Comfy API v2 Job JSON and event-stream frames as comfybot reads them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.comfyapi.jobs import (
    LOST,
    MalformedJob,
    parse_job,
    read_job,
    run_label,
    run_of,
)
from adapters.comfyapi.sse import Frame, read_frames
from core.models import EventSource, OutputKind, RunStatus


def job(**fields: Any) -> dict[str, Any]:
    """A Job with the keys comfy-api-proxy 0.1.6 sends."""
    body: dict[str, Any] = {
        "id": "9f0c",
        "status": "queued",
        "created_at": "2026-05-01T12:00:00+00:00",
        "started_at": None,
        "completed_at": None,
        "expires_at": "2026-05-02T12:00:00+00:00",
        "queue_position": None,
        "progress": None,
        "outputs": [],
        "error": None,
        "outputs_reused": False,
        "urls": {"self": "x", "events": "x", "cancel": "x"},
    }
    return {**body, **fields}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("queued", RunStatus.QUEUED),
        ("running", RunStatus.RUNNING),
        ("canceling", RunStatus.RUNNING),
        ("succeeded", RunStatus.SUCCESS),
        ("failed", RunStatus.FAILED),
        ("canceled", RunStatus.CANCELLED),
        ("expired", RunStatus.FAILED),
    ],
)
def test_every_status_maps(status: str, expected: RunStatus) -> None:
    assert parse_job(job(status=status)).status is expected


def test_queue_position_counts_from_zero_and_progress_is_a_fraction() -> None:
    assert parse_job(job(queue_position=1)).queue_position == 0
    running = parse_job(job(status="running", progress={"value": 0.25, "nodes_done": 1}))
    assert running.progress == 0.25 and running.queue_position is None


def test_a_finished_job_has_its_outputs_and_times() -> None:
    outputs = [
        {"node_id": "9", "name": "a.png", "type": "image", "content_type": "image/png",
         "id": "o1", "url": "http://h/api/v2/assets/o1/content"},
        {"node_id": "9", "name": "b.gif", "type": "image", "content_type": "image/gif",
         "id": "o2", "url": "http://h/api/v2/assets/o2/content"},
        {"node_id": "4", "name": "l", "type": "latent", "id": "o3", "url": "http://h/l"},
        {"node_id": "9", "name": "a.png", "type": "image", "id": "o1",
         "url": "http://h/api/v2/assets/o1/content"},
    ]  # fmt: skip
    event = parse_job(
        job(
            status="succeeded",
            outputs=outputs,
            started_at="2026-05-01T12:00:01Z",
            completed_at="2026-05-01T12:00:04Z",
        )
    )
    assert [(o.kind, o.filename, o.output_id) for o in event.outputs] == [
        (OutputKind.IMAGE, "a.png", "o1"),
        (OutputKind.GIF, "b.gif", "o2"),
    ]
    assert event.started_at == datetime(2026, 5, 1, 12, 0, 1, tzinfo=UTC)
    assert event.ended_at == datetime(2026, 5, 1, 12, 0, 4, tzinfo=UTC)
    assert event.queued_at is None  # billing starts when it runs


def test_a_failure_keeps_the_backends_words() -> None:
    error = {"code": "node_execution_error", "message": "CUDA out of memory\n",
             "node_id": "3", "class_type": "KSampler", "traceback": None}  # fmt: skip
    assert parse_job(job(status="failed", error=error)).error == "CUDA out of memory (KSampler)"
    assert parse_job(job(status="failed")).error is None
    assert parse_job(job(status="expired")).error == LOST


def test_nonsense_is_refused() -> None:
    with pytest.raises(MalformedJob):
        parse_job(job(status="exploded"))
    with pytest.raises(MalformedJob):
        parse_job(["not", "a", "job"])


def test_the_label_names_our_run() -> None:
    label = run_label("abc123", "txt2img")
    assert run_of(job(metadata=label)) == "abc123"
    assert run_of(job(metadata="somebody else's")) is None
    assert run_of(job()) is None


async def test_an_expired_job_is_read_again_before_it_is_believed() -> None:
    answers = [job(status="expired"), job(status="succeeded")]
    reads: list[str] = []

    async def get(job_id: str) -> dict[str, Any]:
        reads.append(job_id)
        return answers.pop(0)

    _, event = await read_job(get, "9f0c", EventSource.POLL)
    assert event.status is RunStatus.SUCCESS and reads == ["9f0c", "9f0c"]


@pytest.fixture
async def stream_of() -> AsyncIterator[Any]:
    """Serve `body` as an event stream on 127.0.0.1; yields a reader of its frames."""
    runners: list[web.AppRunner] = []
    async with aiohttp.ClientSession() as session:

        async def frames(body: bytes, max_frame: int = 1024) -> list[Frame]:
            async def handler(request: web.Request) -> web.StreamResponse:
                response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
                await response.prepare(request)
                for i in range(0, len(body), 7):  # in odd pieces, lines split anywhere
                    await response.write(body[i : i + 7])
                return response

            app = web.Application()
            app.router.add_get("/events", handler)
            runner = web.AppRunner(app, access_log=None)
            runners.append(runner)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/events"
            async with session.get(url) as response:
                return [frame async for frame in read_frames(response, max_frame)]

        yield frames
    for runner in runners:
        await runner.cleanup()


async def test_frames_comments_and_an_oversized_preview(stream_of: Any) -> None:
    big = b"x" * 5000
    body = (
        b'event: status\ndata: {"status":"queued","queue_position":1}\n\n'
        b": keepalive\n\n"
        b"event: preview\ndata: " + big + b"\n\n"
        b'event: progress\r\ndata: {"value":0.5}\r\n\r\n'
        b"event: log\ndata: not json\n\n"
    )
    assert await stream_of(body) == [
        Frame("status", {"status": "queued", "queue_position": 1}),
        Frame("progress", {"value": 0.5}),
        Frame("log", None),
    ]
