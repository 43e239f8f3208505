"""Comfy API v2 Job JSON -> `RunEvent`s: statuses, progress, outputs, errors. Pure functions.

A Job is `{id, status, created_at, started_at, completed_at, expires_at, queue_position,
progress {value, …}, outputs [{node_id, name, type, content_type, id, url, …}], error {code,
message, node_id, class_type, traceback}, urls {self, events, cancel}, metadata?}` with status
`queued|running|canceling|succeeded|failed|canceled|expired`
(https://github.com/Comfy-Org/comfy-api-proxy; comfy-api-proxy fills `started_at` and
`completed_at` with null and counts `queue_position` from 1).

`expired` is terminal on the wire but not always true: comfy-api-proxy 0.1.6 reports a job that
finished between its two upstream lookups as expired, and a cancelled queued job too. Callers
read such a job again before believing it (`read_job`).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from core.models import EventSource, Output, OutputKind, RunEvent, RunStatus

STATUSES: dict[str, RunStatus] = {
    "queued": RunStatus.QUEUED,
    "running": RunStatus.RUNNING,
    "canceling": RunStatus.RUNNING,
    "succeeded": RunStatus.SUCCESS,
    "failed": RunStatus.FAILED,
    "canceled": RunStatus.CANCELLED,
    "cancelled": RunStatus.CANCELLED,
    "expired": RunStatus.FAILED,
}
TERMINAL = frozenset({"succeeded", "failed", "canceled", "cancelled", "expired"})
LOST = "run.lost"
"""The run's error when the backend let it expire (a message key)."""
_KINDS = {
    "image": OutputKind.IMAGE,
    "video": OutputKind.VIDEO,
    "audio": OutputKind.AUDIO,
    "text": OutputKind.FILE,
    "file": OutputKind.FILE,
}
"""Output types worth sending; `latent` is not. A text output is a file at its URL."""
LABEL_PREFIX = "comfybot:"
EXPIRED_REREADS = 2


class MalformedJob(ValueError):
    """A Job that cannot be understood."""


def run_label(run_id: str, deployment_id: str) -> str:
    """The `metadata` a job is created with (and its Idempotency-Key): our run, and where."""
    return f"{LABEL_PREFIX}{run_id}:{deployment_id}"[:255]


def run_of(job: dict[str, Any]) -> str | None:
    """Our run id, from the label a job was created with."""
    label = job.get("metadata")
    if not isinstance(label, str) or not label.startswith(LABEL_PREFIX):
        return None
    run_id = label[len(LABEL_PREFIX) :].split(":", 1)[0]
    return run_id or None


def status_of(job: dict[str, Any]) -> str:
    status = job.get("status")
    if not isinstance(status, str) or status not in STATUSES:
        raise MalformedJob(f"unknown job status {status!r:.40}")
    return status


def parse_job(job: Any, source: EventSource = EventSource.POLL) -> RunEvent:
    if not isinstance(job, dict) or not isinstance(job.get("id"), str):
        raise MalformedJob("a job must be an object with an id")
    status = status_of(job)
    error = _error(job.get("error"))
    if status == "expired":
        error = LOST
    position = job.get("queue_position")
    return RunEvent(
        backend_run_id=job["id"],
        status=STATUSES[status],
        source=source,
        progress=progress_of(job.get("progress")),
        outputs=parse_outputs(job.get("outputs")),
        queue_position=position - 1
        if isinstance(position, int) and not isinstance(position, bool) and position > 0
        else None,
        started_at=_time(job.get("started_at")),
        ended_at=_time(job.get("completed_at")),
        error=error if STATUSES[status] is RunStatus.FAILED else None,
    )


async def read_job(
    get: Callable[[str], Awaitable[dict[str, Any]]], job_id: str, source: EventSource
) -> tuple[dict[str, Any], RunEvent]:
    """A job as the API reports it, read again while it says `expired` (see above)."""
    job = await get(job_id)
    for _ in range(EXPIRED_REREADS):
        if job.get("status") != "expired":
            break
        job = await get(job_id)
    return job, parse_job(job, source)


def progress_of(value: Any) -> float | None:
    """`{value: 0..1, …}` (or a bare number) -> a fraction."""
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return min(1.0, max(0.0, float(value)))


def parse_outputs(value: Any) -> tuple[Output, ...]:
    if not isinstance(value, list):
        return ()
    found: dict[str, Output] = {}
    for item in value:
        if not isinstance(item, dict):
            continue
        kind = _KINDS.get(str(item.get("type")))
        url = item.get("url")
        if kind is None or not isinstance(url, str) or not url:
            continue
        name = item.get("name")
        if kind is OutputKind.IMAGE and item.get("content_type") == "image/gif":
            kind = OutputKind.GIF
        output_id = item.get("id")
        found.setdefault(
            url,
            Output(
                kind=kind,
                url=url,
                filename=name if isinstance(name, str) and name else None,
                output_id=output_id if isinstance(output_id, str) else None,
            ),
        )
    return tuple(found.values())


def _error(value: Any) -> str | None:
    """The backend's own words: its message, and the node class that raised it."""
    if not isinstance(value, dict):
        return None
    message = value.get("message")
    text = message.strip() if isinstance(message, str) else ""
    where = value.get("class_type")
    if isinstance(where, str) and where:
        text = f"{text} ({where})" if text else where
    return text[:1000] or None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
