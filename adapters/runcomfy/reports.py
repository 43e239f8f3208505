"""RunComfy request reports -> `RunEvent`s: the status and result endpoints and webhook bodies
(https://docs.runcomfy.com/serverless/async-queue-endpoints, .../serverless/webhooks). Pure.

- status: `{request_id, status: in_queue|in_progress|completed, queue_position?, instance_id?}`;
  a failed or cancelled request may also read `completed` there, and clients have seen
  `cancelled`/`canceled`/`failed` as well: any of those means "read the result";
- result: `{status: succeeded|failed|cancelled, created_at, finished_at, outputs?, error?}`, with
  `outputs = {node_id: {images: [{filename, subfolder, type, url}], …}}` and `error` a list of
  `{errorCode, error, debugInfo}`; while a request runs it answers its current status instead;
- webhook: `request_id, deployment_id`, `status` and/or `outcome`, timestamps, and on success
  the outputs under `outputs` or `output` (the docs use both).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from core.models import EventSource, Output, OutputKind, RunEvent, RunStatus

WAITING = {"in_queue": RunStatus.QUEUED, "queued": RunStatus.QUEUED}
RUNNING = {"in_progress": RunStatus.RUNNING, "running": RunStatus.RUNNING}
ENDED = {
    "succeeded": RunStatus.SUCCESS,
    "success": RunStatus.SUCCESS,
    "completed": RunStatus.SUCCESS,
    "failed": RunStatus.FAILED,
    "cancelled": RunStatus.CANCELLED,
    "canceled": RunStatus.CANCELLED,
}
FINAL_IN_RESULT = frozenset({"succeeded", "success", "failed", "cancelled", "canceled"})
"""What only the result endpoint says for sure (`completed` alone may hide a failure)."""
COLD_START = "live.cold_start"
_VIDEO = {".mp4", ".webm", ".mov", ".mkv", ".m4v"}
_AUDIO = {".mp3", ".wav", ".flac", ".ogg", ".m4a", ".opus"}


class MalformedReport(ValueError):
    """A report that cannot be understood."""


def state_of(body: Any, *keys: str) -> str:
    """The request's state word (lower case), from the first of `keys` present."""
    if not isinstance(body, dict):
        raise MalformedReport("a report must be a JSON object")
    for key in keys:
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
    raise MalformedReport(f"no {' or '.join(keys)}")


def ended(state: str) -> bool:
    return state in ENDED


def waiting_event(
    request_id: str, body: dict[str, Any], state: str, scales_to_zero: bool
) -> RunEvent:
    """A status reply of a request that has not ended. Queued at the head of the queue on a
    deployment that scales to zero means a GPU machine is being started: a cold start."""
    position = body.get("queue_position")
    position = position if isinstance(position, int) and not isinstance(position, bool) else None
    if state in WAITING:
        head = position is None or position <= 0
        return RunEvent(
            backend_run_id=request_id,
            status=RunStatus.QUEUED,
            source=EventSource.POLL,
            queue_position=position,
            live_status=COLD_START if head and scales_to_zero else "",
        )
    if state in RUNNING:
        return RunEvent(
            backend_run_id=request_id,
            status=RunStatus.RUNNING,
            source=EventSource.POLL,
            live_status="",
        )
    raise MalformedReport(f"unknown status {state!r:.40}")


def result_event(request_id: str, body: Any, source: EventSource) -> RunEvent | None:
    """A result (or a terminal webhook body) -> the end of the run; None while it runs."""
    state = state_of(body, "status", "outcome")
    if state not in FINAL_IN_RESULT:
        return None
    status = ENDED[state]
    outputs = body.get("outputs", body.get("output"))
    return RunEvent(
        backend_run_id=request_id,
        status=status,
        source=source,
        outputs=parse_outputs(outputs) if status is RunStatus.SUCCESS else (),
        queued_at=_time(body.get("created_at")),
        ended_at=_time(body.get("finished_at")),
        error=error_text(body.get("error")) if status is RunStatus.FAILED else None,
    )


def webhook_event(body: Any) -> RunEvent:
    """A webhook body as it came (not yet confirmed with the API)."""
    if not isinstance(body, dict):
        raise MalformedReport("a webhook body must be a JSON object")
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not request_id or len(request_id) > 100:
        raise MalformedReport("missing request_id")
    state = state_of(body, "status", "outcome")
    if state in FINAL_IN_RESULT:
        final = result_event(request_id, body, EventSource.WEBHOOK)
        assert final is not None
        return final
    if state in WAITING or state in RUNNING or state == "completed":
        status = RunStatus.QUEUED if state in WAITING else RunStatus.RUNNING
        return RunEvent(backend_run_id=request_id, status=status, source=EventSource.WEBHOOK)
    raise MalformedReport(f"unknown status {state!r:.40}")


def parse_outputs(value: Any) -> tuple[Output, ...]:
    """Every file of every output node (any list of `{url, filename}` items; temp ones not)."""
    if not isinstance(value, dict):
        return ()
    found: dict[str, Output] = {}
    for node_id, groups in value.items():
        if not isinstance(groups, dict):
            continue
        for key, items in groups.items():
            for item in items if isinstance(items, list) else ():
                if not isinstance(item, dict) or item.get("type") == "temp":
                    continue
                url = item.get("url")
                if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                    continue
                name = item.get("filename")
                filename = name if isinstance(name, str) and name else _name(url)
                found.setdefault(
                    url,
                    Output(
                        kind=_kind(str(key), filename),
                        url=url,
                        filename=filename,
                        output_id=str(node_id),
                    ),
                )
    return tuple(found.values())


def error_text(value: Any) -> str | None:
    """The backend's own words: every `error` message of the list, joined."""
    items = value if isinstance(value, list) else [value]
    texts = []
    for item in items:
        text = item.get("error") if isinstance(item, dict) else item
        if isinstance(text, str) and text.strip():
            texts.append(text.strip())
    return "; ".join(texts)[:1000] or None


def _kind(key: str, filename: str) -> OutputKind:
    ext = PurePosixPath(filename.lower()).suffix
    if ext == ".gif":
        return OutputKind.GIF
    if ext in _VIDEO or key in ("videos", "video"):
        return OutputKind.VIDEO
    if ext in _AUDIO or key == "audio":
        return OutputKind.AUDIO
    return OutputKind.IMAGE if key in ("images", "image") else OutputKind.FILE


def _name(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).name


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
