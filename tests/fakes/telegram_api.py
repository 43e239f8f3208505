"""A local Bot API server for tests: real HTTP, Telegram's JSON, a record of everything sent.

Routes: `/bot{token}/{method}` (form-encoded, multipart or JSON bodies, as Telegram accepts) and
`/file/bot{token}/{path}` for downloads. Tests push user updates (`send_text`, `send_photo`,
`send_document`, `press_button`), await what the bot did (`wait_for`), and inject faults
(`fail_next`: 429 with `retry_after`, or any other error).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from tests.fakes.telegram_objects import (
    JsonDict,
    bot_user_json,
    callback_query_json,
    chat_json,
    document_json,
    message_json,
    photo_sizes_json,
    user_json,
    video_json,
)

T = TypeVar("T")

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
    }
)
COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
MEDIA_FIELDS = {
    "sendphoto": "photo",
    "senddocument": "document",
    "sendvideo": "video",
    "sendanimation": "animation",
}


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

    @property
    def chat_id(self) -> int | str | None:
        value = self.params.get("chat_id")
        return int(value) if isinstance(value, str) and _is_int(value) else value

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
class _StoredFile:
    path: str
    data: bytes


class FakeTelegram:
    """Start with `async with FakeTelegram() as tg:`; point the bot at `tg.base_url`."""

    def __init__(
        self, token: str = "123456:TEST-token_abc", username: str = "comfy_test_bot"
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.username = username
        self.bot_user = bot_user_json(self.bot_id, username)
        self.calls: list[Call] = []
        self.commands: dict[str, list[JsonDict]] = {}
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.messages: dict[tuple[int, int], JsonDict] = {}
        self._files: dict[str, _StoredFile] = {}
        self._updates: list[JsonDict] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._file_ids = itertools.count(1)
        self._faults: dict[str, list[ApiError]] = {}
        self._changed = asyncio.Condition()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.base_url = ""

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=200 * MB)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, shutdown_timeout=1, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        self._closing.set()
        async with self._changed:
            self._changed.notify_all()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- what tests inspect ----------------------------------------------------------------

    def sent(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        """Successful calls, optionally of one method and/or to one chat."""
        return [
            c
            for c in self.calls
            if c.ok
            and (method is None or c.method == method)
            and (chat_id is None or c.chat_id == chat_id)
        ]

    async def wait_for(self, condition: Callable[[], T], within: float = 10.0) -> T:
        """Wait until `condition()` is truthy (re-checked after every request); return it."""
        async with asyncio.timeout(within), self._changed:
            return await self._changed.wait_for(condition)

    async def wait_for_call(
        self,
        method: str,
        where: Callable[[Call], bool] = lambda c: True,
        count: int = 1,
        within: float = 10.0,
    ) -> Call:
        """The `count`-th successful call of `method` matching `where`."""

        def found() -> Call | None:
            matching = [c for c in self.sent(method) if where(c)]
            return matching[count - 1] if len(matching) >= count else None

        call = await self.wait_for(found, within)
        assert call is not None
        return call

    def fail_next(
        self,
        method: str,
        times: int = 1,
        retry_after: int | None = 1,
        code: int = 429,
        description: str | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` with an error (default: 429 Too Many)."""
        text = description or (
            f"Too Many Requests: retry after {retry_after}" if code == 429 else "Bad Request"
        )
        error = ApiError(code, text, retry_after if code == 429 else None)
        self._faults.setdefault(method.lower(), []).extend([error] * times)

    # -- what users do ---------------------------------------------------------------------

    def add_file(self, data: bytes, path_hint: str = "photos/file.jpg") -> str:
        """Store a file the bot may fetch with getFile; returns its file_id."""
        file_id = f"F{next(self._file_ids):04d}{secrets.token_hex(4)}"
        stem, _, ext = path_hint.rpartition(".")
        self._files[file_id] = _StoredFile(f"{stem}_{file_id}.{ext}", data)
        return file_id

    def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        reply_to: JsonDict | None = None,
        user_name: str = "Ann",
    ) -> JsonDict:
        return self._user_message(chat_id, user_id, user_name, thread_id, reply_to, text=text)

    def send_photo(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        *,
        caption: str | None = None,
        thread_id: int | None = None,
        reply_to: JsonDict | None = None,
        file_size: int | None = None,
    ) -> JsonDict:
        """A photo message; `file_size` overrides the size Telegram reports."""
        file_id = self.add_file(data, "photos/file.jpg")
        sizes = photo_sizes_json(file_id, len(data) if file_size is None else file_size)
        return self._user_message(
            chat_id, user_id, "Ann", thread_id, reply_to, photo=sizes, caption=caption
        )

    def send_document(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        *,
        file_name: str = "image.png",
        mime_type: str = "image/png",
        caption: str | None = None,
        thread_id: int | None = None,
    ) -> JsonDict:
        file_id = self.add_file(data, f"documents/{file_name}")
        document = document_json(file_id, len(data), file_name, mime_type)
        return self._user_message(
            chat_id, user_id, "Ann", thread_id, None, document=document, caption=caption
        )

    def press_button(self, user_id: int, message: JsonDict, data: str) -> str:
        """A tap on an inline button of `message`; returns the callback query id."""
        query_id = secrets.token_hex(8)
        query = callback_query_json(query_id, user_json(user_id), message, data)
        self.push_update({"callback_query": query})
        return query_id

    def push_update(self, body: JsonDict) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **body})
        self._notify()
        return update_id

    def _user_message(
        self,
        chat_id: int,
        user_id: int,
        user_name: str,
        thread_id: int | None,
        reply_to: JsonDict | None,
        **content: Any,
    ) -> JsonDict:
        sender = user_json(user_id, user_name)
        chat = chat_json(chat_id, sender, forum=thread_id is not None)
        message = message_json(
            self._next_message_id(chat_id),
            chat,
            sender,
            thread_id=thread_id,
            reply_to=reply_to,
            **content,
        )
        self.messages[(chat_id, message["message_id"])] = message
        self.push_update({"message": message})
        return message

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def _notify(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_running_loop().create_task(notify())

    # -- webhook delivery, as Telegram does it -----------------------------------------------

    async def deliver_webhook(self, body: JsonDict, secret: str | None = None) -> int:
        """POST an update to the registered webhook URL with its secret header; the HTTP status."""
        assert self.webhook_url, "no webhook set"
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        update = {"update_id": next(self._update_ids), **body}
        token = self.webhook_secret if secret is None else secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
        async with self._session.post(self.webhook_url, json=update, headers=headers) as response:
            return response.status

    # -- HTTP ------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params, files = await _read_params(request)
        call = Call(method=method, params=params, files=files)
        self.calls.append(call)
        try:
            faults = self._faults.get(method.lower())
            if faults:
                raise faults.pop(0)
            handler = getattr(self, f"_m_{method.lower()}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            if method.lower() == "getupdates":
                call.result = await handler(params)
            else:
                call.result = handler(call)
        except ApiError as error:
            call.ok = False
            call.error = error.to_json()
            self._notify()
            return web.json_response(call.error, status=error.code)
        self._notify()
        return web.json_response({"ok": True, "result": call.result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        stored = next((f for f in self._files.values() if f.path == path), None)
        if stored is None:
            return web.Response(status=404)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    # -- methods ---------------------------------------------------------------------------

    def _m_getme(self, call: Call) -> JsonDict:
        return self.bot_user

    async def _m_getupdates(self, params: JsonDict) -> list[JsonDict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset", 0) or 0)
        limit = int(params.get("limit", 100) or 100)
        timeout = float(params.get("timeout", 0) or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            try:
                async with asyncio.timeout(timeout), self._changed:
                    await self._changed.wait_for(
                        lambda: bool(self._updates) or self._closing.is_set()
                    )
            except TimeoutError:
                pass
        return self._updates[:limit]

    def _m_deletewebhook(self, call: Call) -> bool:
        self.webhook_url = None
        self.webhook_secret = None
        if _truthy(call.params.get("drop_pending_updates")):
            self._updates.clear()
        return True

    def _m_setwebhook(self, call: Call) -> bool:
        self.webhook_url = str(call.params["url"])
        secret = call.params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook_secret = None if secret is None else str(secret)
        return True

    def _m_getwebhookinfo(self, call: Call) -> JsonDict:
        return {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }

    def _m_setmycommands(self, call: Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        for command in commands:
            if not COMMAND_NAME.match(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[_scope_key(call.params)] = commands
        return True

    def _m_getmycommands(self, call: Call) -> list[JsonDict]:
        return self.commands.get(_scope_key(call.params), [])

    def _m_deletemycommands(self, call: Call) -> bool:
        self.commands.pop(_scope_key(call.params), None)
        return True

    def _m_answercallbackquery(self, call: Call) -> bool:
        if len(str(call.params.get("text", ""))) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    def _m_getfile(self, call: Call) -> JsonDict:
        file_id = str(call.params.get("file_id", ""))
        stored = self._files.get(file_id)
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.data) > DOWNLOAD_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(stored.data),
            "file_path": stored.path,
        }

    def _m_sendmessage(self, call: Call) -> JsonDict:
        text = str(call.params.get("text", ""))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return self._bot_message(call, text=text)

    def _m_editmessagetext(self, call: Call) -> JsonDict | bool:
        if "inline_message_id" in call.params:
            return True
        text = str(call.params.get("text", ""))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        key = (int(call.params["chat_id"]), int(call.params["message_id"]))
        message = self.messages.get(key)
        if message is None or message["from"]["id"] != self.bot_id:
            raise ApiError(400, "Bad Request: message to edit not found")
        markup = call.params.get("reply_markup")
        if message.get("text") == text and message.get("reply_markup") == markup:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        message["text"] = text
        message["edit_date"] = message["date"]
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        return message

    def _m_sendphoto(self, call: Call) -> JsonDict:
        return self._media_message(call, "photo")

    def _m_senddocument(self, call: Call) -> JsonDict:
        return self._media_message(call, "document")

    def _m_sendvideo(self, call: Call) -> JsonDict:
        return self._media_message(call, "video")

    def _m_sendanimation(self, call: Call) -> JsonDict:
        return self._media_message(call, "animation")

    def _m_sendmediagroup(self, call: Call) -> list[JsonDict]:
        items = call.params.get("media")
        if not isinstance(items, list) or not 2 <= len(items) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media in the album (2-10)")
        group_id = secrets.token_hex(6)
        messages = []
        for item in items:
            kind = str(item.get("type", "photo"))
            _check_caption(item.get("caption"))
            content = self._media_content(call, kind, str(item.get("media", "")))
            messages.append(
                self._bot_message(
                    call, media_group_id=group_id, caption=item.get("caption"), **content
                )
            )
        return messages

    # -- building the bot's messages ---------------------------------------------------------

    def _media_message(self, call: Call, kind: str) -> JsonDict:
        _check_caption(call.params.get("caption"))
        reference = call.params.get(kind)
        if reference is None and kind not in call.files:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        content = self._media_content(call, kind, str(reference or f"attach://{kind}"))
        return self._bot_message(call, caption=call.params.get("caption"), **content)

    def _media_content(self, call: Call, kind: str, reference: str) -> JsonDict:
        upload = call.upload(reference) or call.files.get(reference)
        if upload is not None:
            data, name, mime = upload.data, upload.filename, upload.content_type
        elif reference in self._files:
            stored = self._files[reference]
            data, name, mime = stored.data, stored.path.rsplit("/", 1)[-1], "image/jpeg"
        elif reference.startswith(("http://", "https://")):
            data, name, mime = b"", reference.rsplit("/", 1)[-1], "application/octet-stream"
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if len(data) > UPLOAD_LIMIT:
            raise ApiError(413, "Request Entity Too Large")
        if kind == "photo" and len(data) > PHOTO_LIMIT:
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        file_id = self.add_file(data, f"{kind}s/{name or 'file.bin'}")
        if kind == "photo":
            return {"photo": photo_sizes_json(file_id, len(data))}
        if kind == "video":
            return {"video": video_json(file_id, len(data), name, mime)}
        document = document_json(file_id, len(data), name, mime)
        if kind == "animation":
            return {"animation": video_json(file_id, len(data), name, mime), "document": document}
        return {"document": document}

    def _bot_message(self, call: Call, **content: Any) -> JsonDict:
        chat_id = call.chat_id
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        thread_id = call.thread_id
        reply_to = self.messages.get((chat_id, call.reply_to)) if call.reply_to else None
        if call.reply_to and reply_to is None and not _allows_missing_reply(call.params):
            raise ApiError(400, "Bad Request: message to be replied not found")
        markup = call.params.get("reply_markup")
        if isinstance(markup, dict):
            _check_markup(markup)
        chat = chat_json(chat_id, None, forum=thread_id is not None)
        message = message_json(
            self._next_message_id(chat_id),
            chat,
            self.bot_user,
            thread_id=thread_id,
            reply_to=reply_to,
            reply_markup=markup,
            **content,
        )
        self.messages[(chat_id, message["message_id"])] = message
        return message


async def _read_params(request: web.Request) -> tuple[JsonDict, dict[str, Upload]]:
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


def _check_caption(caption: object) -> None:
    if caption is not None and len(str(caption)) > 1024:
        raise ApiError(400, "Bad Request: message caption is too long")


def _check_markup(markup: JsonDict) -> None:
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


def _allows_missing_reply(params: JsonDict) -> bool:
    parameters = params.get("reply_parameters")
    if isinstance(parameters, dict) and parameters.get("allow_sending_without_reply"):
        return True
    return _truthy(params.get("allow_sending_without_reply"))


def _scope_key(params: JsonDict) -> str:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps([scope, params.get("language_code", "")], sort_keys=True)


def _truthy(value: object) -> bool:
    return value in (True, "true", "True", "1", 1)


def _is_int(value: str) -> bool:
    return value.lstrip("-").isdigit()
