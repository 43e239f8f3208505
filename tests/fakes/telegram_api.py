"""A local Bot API server for tests: real HTTP, Telegram's JSON, a record of everything sent.

Routes: `/bot{token}/{method}` (form-encoded, multipart or JSON bodies, as Telegram accepts) and
`/file/bot{token}/{path}` for downloads. Tests push user updates (`send_text`, `send_photo`,
`send_document`, `press_button`), await what the bot did (`wait_for`), and inject faults
(`fail_next`: 429 with `retry_after`, or any other error).

The Bot API methods themselves live in `telegram_service` and `telegram_messages`; the
recorded `Call`, `Upload` and `ApiError` in `telegram_calls` (re-exported here).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from tests.fakes.telegram_calls import MB, ApiError, Call, Upload, read_params
from tests.fakes.telegram_messages import MessageMethods
from tests.fakes.telegram_objects import (
    JsonDict,
    callback_query_json,
    chat_json,
    document_json,
    message_json,
    photo_sizes_json,
    user_json,
)
from tests.fakes.telegram_service import ServiceMethods

__all__ = ["ApiError", "Call", "FakeTelegram", "Upload"]

T = TypeVar("T")


class FakeTelegram(MessageMethods, ServiceMethods):
    """Start with `async with FakeTelegram() as tg:`; point the bot at `tg.base_url`."""

    def __init__(
        self, token: str = "123456:TEST-token_abc", username: str = "comfy_test_bot"
    ) -> None:
        super().__init__(token, username)
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
        params, files = await read_params(request)
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
