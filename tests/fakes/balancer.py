"""A small HTTP load balancer for tests of several bot processes: each request goes to a random
live upstream; one that refuses the connection is skipped; one that dies mid-request gives the
sender a 502 (which it retries, as Telegram and ComfyDeploy do).

With `health_path` (e.g. "/readyz") it checks every upstream there every `check_every_s`
seconds, as HAProxy's `option httpchk` does, and sends requests only to those that answered
200 last time (to all, when none did).

An event stream (`text/event-stream`) is passed on as it comes, as HAProxy does once the
response has begun; if its upstream dies the stream just ends (the client reconnects). Each
answer names the upstream that gave it in `X-Upstream` (HAProxy: `http-response set-header
X-Upstream %s`), and a request may ask to go elsewhere than `X-Upstream-Avoid` (a test's way of
sending a retry to another instance).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Mapping

import aiohttp
from aiohttp import web

HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
UPSTREAM = "X-Upstream"
AVOID = "X-Upstream-Avoid"
EVENT_STREAM = "text/event-stream"


class Balancer:
    def __init__(
        self,
        upstreams: list[str],
        rng: random.Random,
        *,
        health_path: str | None = None,
        check_every_s: float = 0.1,
    ) -> None:
        self.upstreams = upstreams
        """`http://127.0.0.1:port` of each bot process (the list may change while it runs)."""
        self._rng = rng
        self.sent: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._health_path = health_path
        self._check_every_s = check_every_s
        self._checker: asyncio.Task[None] | None = None
        self.healthy: set[str] = set()
        """The upstreams whose last health check answered 200."""
        self.url = ""

    async def start(self) -> str:
        # No total: an event stream lasts as long as its run; a silent upstream is given up on.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=30)
        self._session = aiohttp.ClientSession(timeout=timeout)
        app = web.Application(client_max_size=20_000_000)
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        if self._health_path is not None:
            self._checker = asyncio.create_task(self._check_health(self._health_path))
        return self.url

    async def stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        avoid = headers.pop(AVOID, None)
        order = [u for u in self.upstreams if u in self.healthy] or list(self.upstreams)
        order = [u for u in order if u != avoid] or order
        self._rng.shuffle(order)
        for upstream in order:
            try:
                async with self._session.request(
                    request.method,
                    upstream + request.path_qs,
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                ) as reply:
                    self.sent[upstream] += 1
                    passed = {UPSTREAM: upstream, **_kept(reply.headers)}
                    if reply.content_type == EVENT_STREAM:
                        return await _stream(request, reply, passed)
                    data = await reply.read()
                    return web.Response(status=reply.status, body=data, headers=passed)
            except aiohttp.ClientConnectorError:
                continue  # not listening: the next one
            except (aiohttp.ClientError, TimeoutError):
                return web.Response(status=502, text="upstream failed")
        return web.Response(status=503, text="no upstream")

    async def _check_health(self, path: str) -> None:
        """A health checker's loop: it runs on its own period, like the real thing."""
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=self._check_every_s * 5)
        while True:
            for upstream in list(self.upstreams):
                try:
                    async with self._session.get(upstream + path, timeout=timeout) as reply:
                        ok = reply.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                (self.healthy.add if ok else self.healthy.discard)(upstream)
            await asyncio.sleep(self._check_every_s)


KEPT_HEADERS = ("Content-Type", "Location", "Retry-After", "Idempotent-Replayed", "Cache-Control")


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    """The upstream's headers a client reads (the rest are the balancer's own)."""
    return {name: headers[name] for name in KEPT_HEADERS if name in headers}


async def _stream(
    request: web.Request, reply: aiohttp.ClientResponse, headers: dict[str, str]
) -> web.StreamResponse:
    response = web.StreamResponse(status=reply.status, headers=headers)
    await response.prepare(request)
    with contextlib.suppress(aiohttp.ClientError, TimeoutError, ConnectionResetError):
        async for chunk in reply.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
    return response
