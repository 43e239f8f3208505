"""What the fake Bot API records: requests (`Call`), their files (`Upload`), errors (`ApiError`),
webhook deliveries (`WebhookAttempt`).

Also how a request's parameters are read — query string, then a form-encoded, multipart or
JSON body, as Telegram accepts — and the size limits Telegram enforces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.telegram_objects import JsonDict

MB = 1024 * 1024
PHOTO_LIMIT = 10 * MB
UPLOAD_LIMIT = 50 * MB
DOWNLOAD_LIMIT = 20 * MB
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "reply_parameters",
        "commands",
        "media",
        "allowed_updates",
        "scope",
        "entities",
        "caption_entities",
        "link_preview_options",
        "prices",
        "suggested_tip_amounts",
    }
)


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def to_json(self) -> JsonDict:
        body: JsonDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass
class Upload:
    """A file part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Call:
    """One request the bot made, and how the fake answered it."""

    method: str
    params: JsonDict
    files: dict[str, Upload] = field(default_factory=dict)
    ok: bool = True
    result: Any = None
    error: JsonDict | None = None
    stalled: bool = False
    """Carried out, but its response was held back (see `FakeTelegram.accept_then_stall`)."""
    peer: int | None = None
    """The client's TCP port: which connection (so which process) made the request."""
    at: float = 0.0
    """When the request arrived (time.monotonic)."""

    @property
    def chat_id(self) -> int | str | None:
        value = self.params.get("chat_id")
        return int(value) if isinstance(value, str) and is_int(value) else value

    @property
    def thread_id(self) -> int | None:
        value = self.params.get("message_thread_id")
        return None if value is None else int(value)

    @property
    def message_id(self) -> int | None:
        value = self.params.get("message_id")
        return None if value is None else int(value)

    @property
    def reply_to(self) -> int | None:
        """The message replied to: `reply_parameters.message_id` or the legacy field."""
        parameters = self.params.get("reply_parameters")
        if isinstance(parameters, dict) and "message_id" in parameters:
            return int(parameters["message_id"])
        value = self.params.get("reply_to_message_id")
        return None if value is None else int(value)

    @property
    def text(self) -> str | None:
        value = self.params.get("text", self.params.get("caption"))
        return None if value is None else str(value)

    @property
    def reply_markup(self) -> JsonDict | None:
        markup = self.params.get("reply_markup")
        return markup if isinstance(markup, dict) else None

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(text, callback_data) of every inline button."""
        markup = self.reply_markup or {}
        return [
            (button.get("text", ""), button.get("callback_data", ""))
            for row in markup.get("inline_keyboard", [])
            for button in row
        ]

    def upload(self, name: str) -> Upload | None:
        """The file sent in field `name`, or referenced as `attach://name`."""
        if name.startswith("attach://"):
            name = name.removeprefix("attach://")
        return self.files.get(name)

    @property
    def media(self) -> list[JsonDict]:
        """sendMediaGroup items, each with `upload` resolved when it was attached."""
        items = self.params.get("media")
        if not isinstance(items, list):
            return []
        return [{**item, "upload": self.upload(str(item.get("media", "")))} for item in items]


@dataclass
class StoredFile:
    """A file the fake holds, downloadable at `/file/bot{token}/{path}`."""

    path: str
    data: bytes


async def read_params(request: web.Request) -> tuple[JsonDict, dict[str, Upload]]:
    """Query string, then the body: form-encoded, multipart (files apart) or JSON."""
    params: JsonDict = dict(request.query)
    files: dict[str, Upload] = {}
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
        return params, files
    if request.can_read_body:
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                files[name] = Upload(name, value.filename, value.content_type, data)
            else:
                params[name] = value
    for name in JSON_FIELDS & params.keys():
        if isinstance(params[name], str):
            params[name] = json.loads(params[name])
    return params, files


def truthy(value: object) -> bool:
    return value in (True, "true", "True", "1", 1)


def is_int(value: str) -> bool:
    return value.lstrip("-").isdigit()


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of an update to the bot's webhook: the HTTP status, or why there was none."""

    update_id: int
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Telegram counts any 2XY answer as delivered."""
        return self.status is not None and 200 <= self.status < 300


@dataclass
class PollConflict:
    """A long poll terminated because another getUpdates arrived while it waited, as Telegram
    does: "Conflict: terminated by other getUpdates request; make sure that only one bot
    instance is running"."""

    terminated: int | None
    """The `peer` of the poll that was cut short."""
    by: int | None
    """The `peer` of the request that cut it short."""
    live: bool
    """Whether the terminated poll's client was still connected (False: it had died)."""
