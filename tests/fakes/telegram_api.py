"""A local Bot API server for tests: real HTTP, Telegram's JSON, a record of everything sent.

Routes: `/bot{token}/{method}` (form-encoded, multipart or JSON bodies, as Telegram accepts) and
`/file/bot{token}/{path}` for downloads. Tests push user updates (`send_text`, `send_photo`,
`send_document`, `press_button`, `pre_checkout`, ...: telegram_users, telegram_payments), await
what the bot did (`wait_for`), and inject faults (`fail_next`: 429 with `retry_after`, or any
other error; `accept_then_stall`: carried out, but the response held back).

Options, all off by default: `limits=FloodLimits()` enforces Telegram's flood limits
(telegram_limits) on the fake's `clock` (`time.monotonic`, or a `ManualClock`);
`push_webhooks=True` POSTs updates to the bot's webhook like Telegram (telegram_webhook).

The Bot API methods themselves live in `telegram_service`, `telegram_messages`,
`telegram_edits`, `telegram_menus` and `telegram_payments`; the recorded `Call`, `Upload` and
`ApiError` in `telegram_calls` (re-exported here).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from tests.fakes.telegram_calls import (
    MB,
    ApiError,
    Call,
    PollConflict,
    Upload,
    WebhookAttempt,
    read_params,
)
from tests.fakes.telegram_edits import EditMethods
from tests.fakes.telegram_history import MessageHistory, Version
from tests.fakes.telegram_limits import Clock, FloodLimits, ManualClock, Rate
from tests.fakes.telegram_menus import MenuMethods
from tests.fakes.telegram_payments import PaymentMethods
from tests.fakes.telegram_service import ServiceMethods
from tests.fakes.telegram_state import Stall
from tests.fakes.telegram_users import UserActions
from tests.fakes.telegram_webhook import WebhookDelivery

__all__ = [
    "ApiError",
    "Call",
    "FakeTelegram",
    "FloodLimits",
    "ManualClock",
    "MessageHistory",
    "PollConflict",
    "Rate",
    "Stall",
    "Upload",
    "Version",
    "WebhookAttempt",
]

T = TypeVar("T")


class FakeTelegram(
    UserActions, WebhookDelivery, PaymentMethods, EditMethods, MenuMethods, ServiceMethods
):
    """Start with `async with FakeTelegram() as tg:`; point the bot at `tg.base_url`."""

    def __init__(
        self,
        token: str = "123456:TEST-token_abc",
        username: str = "comfy_test_bot",
        *,
        limits: FloodLimits | None = None,
        clock: Clock | None = None,
        push_webhooks: bool = False,
    ) -> None:
        super().__init__(token, username, limits=limits, clock=clock)
        self.push_webhooks = push_webhooks
        self._runner: web.AppRunner | None = None
        self._pusher: asyncio.Task[None] | None = None
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
        if self.push_webhooks:
            self._pusher = asyncio.create_task(self._push_webhooks())
        return self.base_url

    async def stop(self) -> None:
        self._closing.set()
        for stall in self._held:
            stall.release()
        async with self._changed:
            self._changed.notify_all()
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
        await self._close_webhook_session()
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

    def accept_then_stall(self, method: str, drop: bool = False) -> Stall:
        """The next call of `method` is carried out (the message really is in the chat) but
        its response is held until `stall.release()`, so the client times out not knowing
        whether it worked. With `drop`, the connection is closed instead of answered."""
        stall = Stall(method, drop=drop)
        self._stalls.setdefault(method.lower(), []).append(stall)
        return stall

    def history(self, chat_id: int, message_id: int) -> MessageHistory:
        """Every version of one bot message: as sent, then after each accepted edit."""
        return self.history_book.get(chat_id, message_id)

    def histories(
        self,
        chat_id: int | None = None,
        where: Callable[[MessageHistory], bool] = lambda h: True,
    ) -> list[MessageHistory]:
        """Histories of the bot's messages (optionally in one chat), in the order sent; e.g.
        every status message ended without a Cancel button:
        `all(h.final.buttons == [] for h in fake.histories(5, lambda h: h.first.buttons))`."""
        return self.history_book.select(chat_id, where)

    # -- HTTP ------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params, files = await read_params(request)
        peername = request.transport.get_extra_info("peername") if request.transport else None
        call = Call(
            method=method,
            params=params,
            files=files,
            peer=int(peername[1]) if peername else None,
            at=time.monotonic(),
        )
        self.calls.append(call)
        try:
            faults = self._faults.get(method.lower())
            if faults:
                raise faults.pop(0)
            handler = getattr(self, f"_m_{method.lower()}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            if self.flood is not None:
                self.flood.check(method, call.chat_id)
            if method.lower() == "getupdates":
                call.result = await handler(params, call, request)
            else:
                call.result = handler(call)
                if self.flood is not None:
                    self.flood.accepted(method, call.chat_id)
        except ApiError as error:
            call.ok = False
            call.error = error.to_json()
            if error.code == 429:
                self.flood_429s[call.chat_id] += 1
            self._notify()
            return web.json_response(call.error, status=error.code)
        self._notify()
        stalls = self._stalls.get(method.lower())
        if stalls:
            return await self._stall(request, call, stalls.pop(0))
        return web.json_response({"ok": True, "result": call.result})

    async def _stall(self, request: web.Request, call: Call, stall: Stall) -> web.StreamResponse:
        call.stalled = True
        stall.call = call
        stall.accepted.set()
        if stall.drop and request.transport is not None:
            request.transport.abort()
        else:
            self._held.append(stall)
            await stall.released.wait()
        return web.json_response({"ok": True, "result": call.result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        stored = next((f for f in self._files.values() if f.path == path), None)
        if stored is None:
            return web.Response(status=404)
        return web.Response(body=stored.data, content_type="application/octet-stream")
