"""A small HTTP load balancer for tests of several bot processes: each request goes to a random
live upstream; one that refuses the connection is skipped; one that dies mid-request gives the
sender a 502 (which it retries, as Telegram and ComfyDeploy do).

With `health_path` (e.g. "/readyz") it checks every upstream there every `check_every_s`
seconds, as HAProxy's `option httpchk` does, and sends requests only to those that answered
200 last time (to all, when none did).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter

import aiohttp
from aiohttp import web

HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


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
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
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

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        order = [u for u in self.upstreams if u in self.healthy] or list(self.upstreams)
        self._rng.shuffle(order)
        for upstream in order:
            try:
                async with self._session.request(
                    request.method, upstream + request.path_qs, headers=headers, data=body
                ) as reply:
                    self.sent[upstream] += 1
                    data = await reply.read()
                    kind = reply.headers.get("Content-Type")
                    return web.Response(status=reply.status, body=data, headers=_kind(kind))
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


def _kind(content_type: str | None) -> dict[str, str]:
    return {"Content-Type": content_type} if content_type else {}
