"""What the fake Discord records of each REST request, and how it reads request bodies.

Bodies are JSON, or `multipart/form-data` with a `payload_json` part and `files[n]` parts
(https://discord.com/developers/docs/reference#uploading-files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.discord_errors import DiscordError, invalid_form_body
from tests.fakes.discord_objects import JsonDict

HEADERS_OF_INTEREST = (
    "Authorization",
    "User-Agent",
    "Content-Type",
    "X-Audit-Log-Reason",
)


@dataclass
class Upload:
    """One `files[n]` part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes

    @property
    def index(self) -> int | None:
        """n of `files[n]`, the placeholder id that `attachments[].id` refers to."""
        inner = self.field.removeprefix("files[").removesuffix("]")
        return int(inner) if inner.isdigit() else None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class RestCall:
    """One request the client made, and the fake's answer."""

    method: str
    path: str
    route: str
    """The route template, e.g. `POST /channels/{channel_id}/messages`."""
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    """The JSON body, or the decoded `payload_json` of a multipart body."""
    files: list[Upload] = field(default_factory=list)
    status: int = 0
    response: Any = None
    real_time: float = 0.0
    """`time.perf_counter()` when the request arrived."""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def json(self) -> JsonDict:
        return self.body if isinstance(self.body, dict) else {}

    def file(self, filename: str) -> Upload | None:
        return next((f for f in self.files if f.filename == filename), None)


async def read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    """The JSON payload and the uploaded files; 400 50035 when the body cannot be parsed."""
    if not request.can_read_body:
        return None, []
    if request.content_type == "multipart/form-data":
        return await _read_multipart(request)
    text = await request.text()
    if not text:
        return None, []
    if request.content_type != "application/json":
        raise invalid_form_body(
            {"_errors": [{"code": "CONTENT_TYPE_INVALID", "message": "Expected JSON body"}]}
        )
    try:
        return json.loads(text), []
    except ValueError as error:
        raise DiscordError(400, 50109, "The request body contains invalid JSON.") from error


async def _read_multipart(request: web.Request) -> tuple[Any, list[Upload]]:
    payload: JsonDict = {}
    files: list[Upload] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
            continue
        data = bytes(await part.read())
        if part.filename is not None:
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            files.append(Upload(part.name, part.filename, content_type, data))
        elif part.name == "payload_json":
            try:
                payload.update(json.loads(data.decode("utf-8")))
            except ValueError as error:
                raise DiscordError(
                    400, 50109, "The request body contains invalid JSON."
                ) from error
        else:
            payload[part.name] = data.decode("utf-8")
    return payload, files
