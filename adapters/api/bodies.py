"""Reading what clients send, within limits: a JSON object of at most `max_bytes`, an
`Idempotency-Key` of at most 255 visible ASCII characters, a page size, a page cursor, the
reader's language. Anything else is refused with one clear error before it reaches the engine."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.api.errors import ApiError

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")


async def read_object(request: web.Request, max_bytes: int) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large(max_bytes)
    raw = await request.content.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise too_large(max_bytes)
    try:
        body = json.loads(raw or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(400, "malformed_json", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "The body must be a JSON object of inputs.")
    return body


def too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "body_too_large", f"The body is larger than {max_bytes} bytes.")


def idempotency_key(request: web.Request) -> str | None:
    value = request.headers.get("Idempotency-Key")
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY.match(value):
        raise ApiError(
            400, "bad_idempotency_key", "Idempotency-Key: 1-255 visible ASCII characters."
        )
    return value


def page_size(request: web.Request, default: int, most: int) -> int:
    text = request.query.get("limit")
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise ApiError(400, "bad_query", f"limit: a whole number from 1 to {most}.")
    return int(text)


def encode_cursor(created_at: datetime, run_id: str) -> str:
    raw = f"{created_at.isoformat()}|{run_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(request: web.Request) -> tuple[datetime, str] | None:
    text = request.query.get("after")
    if text is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        moment, _, run_id = raw.partition("|")
        created = datetime.fromisoformat(moment)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(400, "bad_query", "after: not a cursor this API gave.") from None
    if not run_id or created.tzinfo is None:
        raise ApiError(400, "bad_query", "after: not a cursor this API gave.")
    return created, run_id


def language(request: web.Request) -> str | None:
    """The first language of Accept-Language (https://www.rfc-editor.org/rfc/rfc9110#name-
    accept-language), as a tag; the default language answers when there is no catalog for it."""
    first = request.headers.get("Accept-Language", "").split(",", 1)[0].split(";", 1)[0].strip()
    return first if _LANGUAGE.match(first) else None
