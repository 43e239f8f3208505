"""Updates pushed by Telegram to our own aiohttp server, checked by the secret-token header."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
UpdateSink = Callable[[dict[str, Any]], Awaitable[bool]]
"""Takes one update's JSON; False when it was not taken in (not running, the database away,
another instance still on it): 503, and Telegram will retry."""


class WebhookReceiver:
    def __init__(self, sink: UpdateSink) -> None:
        self._sink = sink
        self.secret: str | None = None
        """Set when the webhook is registered; until then every request is refused."""
        self.open = True
        """False once the bot stops taking updates (draining): 503, so Telegram retries."""

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if self.secret is None or not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning("telegram webhook: request without the right secret token refused")
            return web.Response(status=403, text="forbidden")
        if not self.open:
            return web.Response(status=503, text="draining")
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.Response(status=400, text="body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("update_id"), int):
            return web.Response(status=400, text="not a Telegram update")
        if not await self._sink(body):
            return web.Response(status=503, text="not running")
        return web.Response(status=200, text="ok")
