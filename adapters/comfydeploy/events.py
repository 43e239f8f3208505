"""Parse ComfyDeploy run reports into `RunEvent`s: the poll reply (WorkflowRunModel) and
webhook deliveries, as the server sends them (https://github.com/comfy-deploy/api/blob/main/src/api/routes/run.py).
Pure: no I/O, no aiohttp.

Top-level problems (no run id, unknown status, wrong types) raise `MalformedEvent`. Inside
`outputs`, items that do not fit the MediaItem model are skipped, as the server itself does.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from core.models import EventSource, Output, OutputKind, RunEvent, RunStatus

_VIDEO = {".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v"}
_AUDIO = {".mp3", ".wav", ".flac", ".ogg", ".m4a", ".aac", ".opus"}
_STATUSES = {s.value: s for s in RunStatus if s is not RunStatus.PENDING}


class MalformedEvent(ValueError):
    """A run report that cannot be understood."""


def parse_run(data: Any) -> RunEvent:
    """`GET /run/{id}` reply -> a poll event."""
    body = _object(data)
    return RunEvent(
        backend_run_id=_run_id(body, "id"),
        status=_status(body),
        source=EventSource.POLL,
        progress=_progress(body.get("progress")),
        live_status=_opt_str(body, "live_status"),
        outputs=parse_outputs(body.get("outputs")),
        queue_position=_opt_int(body, "queue_position"),
        queued_at=_time(body, "queued_at"),
        started_at=_time(body, "started_at"),
        ended_at=_time(body, "ended_at"),
        gpu=_opt_str(body, "gpu"),
    )


def parse_webhook(data: Any) -> RunEvent:
    """Webhook body `{event_type, status, live_status, progress, run_id, outputs}` -> an event."""
    body = _object(data)
    event_type = body.get("event_type")
    if event_type is not None and not isinstance(event_type, str):
        raise MalformedEvent("event_type must be a string")
    return RunEvent(
        backend_run_id=_run_id(body, "run_id"),
        status=_status(body),
        source=EventSource.WEBHOOK,
        progress=_progress(body.get("progress")),
        live_status=_opt_str(body, "live_status"),
        outputs=parse_outputs(body.get("outputs")),
    )


def parse_outputs(value: Any) -> tuple[Output, ...]:
    """`outputs[]` -> outputs in order, without duplicates; null counts as none."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedEvent("outputs must be a list")
    found: dict[tuple[OutputKind, str], Output] = {}
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("data"), dict):
            continue
        entry_id = entry.get("output_id") if isinstance(entry.get("output_id"), str) else None
        for key, items in entry["data"].items():
            if not isinstance(items, list):
                continue
            for item in items:
                output = _output(str(key), item, entry_id)
                if output is not None:
                    found.setdefault((output.kind, output.key), output)
    return tuple(found.values())


def kind_for(key: str, filename: str) -> OutputKind:
    """Output kind from the `data` key, refined by the file extension."""
    ext = PurePosixPath(filename.lower()).suffix
    if key == "images":
        if ext == ".gif":
            return OutputKind.GIF
        return OutputKind.VIDEO if ext in _VIDEO else OutputKind.IMAGE
    if key == "gifs":
        return OutputKind.VIDEO if ext in _VIDEO else OutputKind.GIF
    if ext in _VIDEO:
        return OutputKind.VIDEO
    if key == "audio" or ext in _AUDIO:
        return OutputKind.AUDIO
    return OutputKind.FILE


def _output(key: str, item: Any, entry_id: str | None) -> Output | None:
    if isinstance(item, str):
        if key != "text" and item.startswith(("http://", "https://")):
            name = _name_from_url(item)
            return Output(kind=kind_for(key, name), url=item, filename=name, output_id=entry_id)
        return Output(kind=OutputKind.TEXT, text=item, output_id=entry_id) if item else None
    if not isinstance(item, dict) or item.get("type") == "temp":
        return None
    url = item.get("url")
    if not isinstance(url, str) or not url:
        return None
    filename = item.get("filename")
    name = filename if isinstance(filename, str) and filename else _name_from_url(url)
    item_id = item.get("output_id")
    return Output(
        kind=kind_for(key, name),
        url=url,
        filename=name,
        output_id=item_id if isinstance(item_id, str) else entry_id,
    )


def _name_from_url(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).name


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MalformedEvent("run report must be a JSON object")
    return data


def _run_id(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"missing {key}")
    return value


def _status(body: dict[str, Any]) -> RunStatus:
    value = body.get("status")
    if not isinstance(value, str) or value not in _STATUSES:
        raise MalformedEvent(f"unknown status {value!r:.40}")
    return _STATUSES[value]


def _progress(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedEvent("progress must be a number")
    if math.isnan(value):
        return None
    return min(1.0, max(0.0, float(value)))


def _opt_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedEvent(f"{key} must be a string")
    return value


def _opt_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise MalformedEvent(f"{key} must be an integer")
    return value


def _time(body: dict[str, Any], key: str) -> datetime | None:
    """ISO-8601; a trailing `Z` and naive values (machines list style) are read as UTC."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedEvent(f"{key} must be a string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedEvent(f"{key} is not an ISO timestamp") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
