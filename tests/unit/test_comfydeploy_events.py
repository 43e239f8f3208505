"""Parsing ComfyDeploy run reports: poll replies and webhook bodies."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.comfydeploy.events import MalformedEvent, parse_run, parse_webhook
from core.models import EventSource, OutputKind, RunStatus

RUN_ID = "b888f774-3e7c-4135-a18c-6b985523c4bc"
IMAGE_URL = f"https://bucket.s3.us-east-1.amazonaws.com/outputs/runs/{RUN_ID}/ComfyUI_00001_.png"

# A WorkflowRunModel as GET /run/{id} returns it.
RUN_REPLY: dict[str, Any] = {
    "id": RUN_ID,
    "workflow_version_id": "0c5f4b8e-0000-4000-8000-000000000001",
    "workflow_inputs": {"prompt": "a red fox", "seed": 42},
    "workflow_id": "0c5f4b8e-0000-4000-8000-000000000002",
    "machine_id": "0c5f4b8e-0000-4000-8000-000000000003",
    "origin": "api",
    "status": "success",
    "ended_at": "2025-05-01T12:00:41.500000Z",
    "created_at": "2025-05-01T12:00:00.100000Z",
    "updated_at": "2025-05-01T12:00:41.500000Z",
    "queued_at": "2025-05-01T12:00:01.000000Z",
    "started_at": "2025-05-01T12:00:19.000000Z",
    "gpu_event_id": "0c5f4b8e-0000-4000-8000-000000000004",
    "gpu": "A10G",
    "machine_version": None,
    "machine_type": "comfy-deploy-serverless",
    "modal_function_call_id": "fc-01JT",
    "user_id": "user_2x",
    "org_id": None,
    "live_status": "Executing SaveImage",
    "progress": 1.0,
    "is_realtime": False,
    "webhook": "https://bot.example.com/cd/webhook",
    "webhook_status": None,
    "webhook_intermediate_status": True,
    "outputs": [
        {
            "id": "0c5f4b8e-0000-4000-8000-000000000005",
            "output_id": "final_result",
            "run_id": RUN_ID,
            "data": {
                "images": [
                    {
                        "url": IMAGE_URL,
                        "type": "output",
                        "filename": "ComfyUI_00001_.png",
                        "subfolder": "",
                        "is_public": True,
                        "upload_duration": 0.42,
                    }
                ]
            },
            "node_meta": {"node_id": "9", "node_class": "SaveImage"},
            "created_at": "2025-05-01T12:00:40.000000Z",
            "updated_at": "2025-05-01T12:00:40.000000Z",
            "type": None,
            "node_id": None,
        }
    ],
    "number": 0,
    "duration": 41.4,
    "cold_start_duration": 18.0,
    "cold_start_duration_total": 18.9,
    "run_duration": 22.5,
    "queue_position": None,
}

# A webhook body as ComfyDeploy posts it.
WEBHOOK: dict[str, Any] = {
    "event_type": "run.updated",
    "status": "running",
    "live_status": "Executing KSampler",
    "progress": 0.45,
    "run_id": RUN_ID,
    "outputs": [],
}


def webhook(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(WEBHOOK)
    body.update(changes)
    return body


def test_parse_run_reads_status_timestamps_and_outputs() -> None:
    event = parse_run(RUN_REPLY)
    assert event.backend_run_id == RUN_ID
    assert event.source is EventSource.POLL
    assert event.status is RunStatus.SUCCESS
    assert event.progress == 1.0
    assert event.live_status == "Executing SaveImage"
    assert event.gpu == "A10G"
    assert event.queue_position is None
    assert event.queued_at == datetime(2025, 5, 1, 12, 0, 1, tzinfo=UTC)
    assert event.started_at == datetime(2025, 5, 1, 12, 0, 19, tzinfo=UTC)
    assert event.ended_at == datetime(2025, 5, 1, 12, 0, 41, 500000, tzinfo=UTC)
    assert event.ended_at is not None and event.ended_at.tzinfo is not None
    [output] = event.outputs
    assert output.kind is OutputKind.IMAGE
    assert output.url == IMAGE_URL
    assert output.filename == "ComfyUI_00001_.png"
    assert output.output_id == "final_result"


def test_parse_run_queued_with_position() -> None:
    body = dict(RUN_REPLY, status="queued", queue_position=3, outputs=[], started_at=None)
    body.update(ended_at=None, progress=0, live_status=None)
    event = parse_run(body)
    assert event.status is RunStatus.QUEUED
    assert event.queue_position == 3
    assert event.started_at is None and event.ended_at is None
    assert event.outputs == ()


def test_parse_webhook_progress_ping() -> None:
    event = parse_webhook(WEBHOOK)
    assert event.source is EventSource.WEBHOOK
    assert event.backend_run_id == RUN_ID
    assert event.status is RunStatus.RUNNING
    assert event.progress == 0.45
    assert event.live_status == "Executing KSampler"
    assert event.outputs == ()


def test_parse_webhook_outputs_of_every_kind() -> None:
    base = "https://bucket.s3.amazonaws.com/outputs/runs/r/"
    outputs = [
        {
            "output_id": "final_result",
            "run_id": RUN_ID,
            "created_at": "2025-05-01T12:00:07.123Z",
            "data": {
                "images": [
                    {"url": base + "a.png", "type": "output", "filename": "a.png"},
                    {"url": base + "preview.png", "type": "temp", "filename": "preview.png"},
                    {"type": "output", "filename": "no-url.png"},
                ],
                "gifs": [
                    {"url": base + "anim.gif", "type": "output", "filename": "anim.gif"},
                    {"url": base + "clip.mp4", "type": "output", "filename": "clip.mp4"},
                ],
                "files": [
                    {"url": base + "model.glb", "type": "output", "filename": "model.glb"},
                    {"url": base + "song.mp3", "type": "output", "filename": "song.mp3"},
                    {"url": base + "film.webm", "type": "output", "filename": "film.webm"},
                ],
                "mesh": [{"url": base + "mesh.obj", "type": "output", "filename": "mesh.obj"}],
                "text": ["a caption", True],
            },
        },
        # A duplicate of an earlier item (a run.updated carries every output so far).
        {"data": {"images": [{"url": base + "a.png", "type": "output", "filename": "a.png"}]}},
        # Shapes the server drops: no data, data not an object, a list that is not a list.
        {"output_id": "broken"},
        {"data": "nope"},
        {"data": {"images": "nope"}},
    ]
    event = parse_webhook(webhook(event_type="run.output", status="success", outputs=outputs))
    kinds = [(o.kind, o.filename or o.text) for o in event.outputs]
    assert kinds == [
        (OutputKind.IMAGE, "a.png"),
        (OutputKind.GIF, "anim.gif"),
        (OutputKind.VIDEO, "clip.mp4"),
        (OutputKind.FILE, "model.glb"),
        (OutputKind.AUDIO, "song.mp3"),
        (OutputKind.VIDEO, "film.webm"),
        (OutputKind.FILE, "mesh.obj"),
        (OutputKind.TEXT, "a caption"),
    ]
    assert event.outputs[0].url == base + "a.png"
    assert event.outputs[0].output_id == "final_result"


def test_filename_falls_back_to_url_path() -> None:
    outputs = [{"data": {"images": [{"url": "https://x.example/o/ComfyUI_7.png?sig=1"}]}}]
    [output] = parse_webhook(webhook(outputs=outputs)).outputs
    assert output.filename == "ComfyUI_7.png"


@pytest.mark.parametrize(("raw", "clamped"), [(1.7, 1.0), (45, 1.0), (-0.2, 0.0), (0, 0.0)])
def test_progress_is_clamped(raw: float, clamped: float) -> None:
    assert parse_webhook(webhook(progress=raw)).progress == clamped


def test_missing_progress_and_live_status_are_none() -> None:
    event = parse_webhook(webhook(progress=None, live_status=None, outputs=None))
    assert event.progress is None and event.live_status is None and event.outputs == ()


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "run.updated",
        {k: v for k, v in WEBHOOK.items() if k != "run_id"},
        webhook(run_id=""),
        webhook(run_id=123),
        webhook(status="completed"),
        webhook(status="pending"),
        webhook(status=None),
        webhook(progress="45%"),
        webhook(progress=True),
        webhook(live_status=7),
        webhook(outputs={"images": []}),
        webhook(event_type=5),
    ],
)
def test_malformed_webhooks_raise(body: Any) -> None:
    with pytest.raises(MalformedEvent):
        parse_webhook(body)
    assert issubclass(MalformedEvent, ValueError)


@pytest.mark.parametrize(
    "changes",
    [{"id": None}, {"status": "processing"}, {"queued_at": 5}, {"queued_at": "yesterday"}],
)
def test_malformed_run_replies_raise(changes: dict[str, Any]) -> None:
    with pytest.raises(MalformedEvent):
        parse_run(dict(RUN_REPLY, **changes))


def test_every_comfydeploy_status_is_understood() -> None:
    for status in ("not-started", "queued", "started", "running", "uploading"):
        assert not parse_webhook(webhook(status=status)).status.terminal
    for status in ("success", "failed", "timeout", "cancelled"):
        assert parse_webhook(webhook(status=status)).status.terminal
