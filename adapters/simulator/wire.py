"""Wire-format details shared by the simulator's routes: timestamps and FastAPI error shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

JsonDict = dict[str, Any]


def iso_z(moment: datetime | None) -> str | None:
    """`2025-05-01T12:00:03.123000Z`, as FastAPI renders the run model's datetimes."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_millis_z(moment: datetime) -> str:
    """`2025-05-01T12:00:07.123Z`, as webhook bodies render output timestamps."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{moment.microsecond // 1000:03d}Z"
    )


def iso_naive(moment: datetime) -> str:
    """ISO without a zone suffix, as the machine listing renders datetimes."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def detail(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """FastAPI's `HTTPException` body: `{"detail": "..."}`."""
    return web.json_response({"detail": message}, status=status, headers=headers)


def validation_error(error: ValidationError, *prefix: str) -> web.Response:
    """FastAPI's 422 body: `{"detail": [{type, loc, msg, input, ctx?}, ...]}`."""
    items: list[JsonDict] = json.loads(error.json(include_url=False))
    for item in items:
        item["loc"] = [*prefix, *item.get("loc", [])]
    return web.json_response({"detail": items}, status=422)


def missing_field(*loc: str) -> web.Response:
    item = {"type": "missing", "loc": list(loc), "msg": "Field required", "input": None}
    return web.json_response({"detail": [item]}, status=422)


def json_invalid(message: str) -> web.Response:
    item = {
        "type": "json_invalid",
        "loc": ["body", 0],
        "msg": "JSON decode error",
        "input": {},
        "ctx": {"error": message},
    }
    return web.json_response({"detail": [item]}, status=422)
