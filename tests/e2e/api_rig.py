"""The HTTP run API end to end: one bot process (the whole engine, the ComfyDeploy simulator in
manual pacing, the embedded database, the bot's real HTTP server with the API mounted), shared
by every test of a module; each test uses keys of its own, so runs, credits and limits do not
meet. A callback receiver on 127.0.0.1 records what it is sent."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from PIL import Image

from adapters.api import ApiPlatform
from bot.apikeys import create_key
from bot.container import Container, build_container
from bot.platforms import api_platform
from core.api_keys import IssuedKey
from core.delivery import DeliveryPolicy
from core.models import Run
from core.ports import WorkflowBackend
from core.previews import PreviewBoard
from tests.e2e.harness import World, world


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int
    """The status the receiver answered with."""

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A callback endpoint on 127.0.0.1: records every POST, answers `replies` first (then 200)."""

    received: list[Received] = field(default_factory=list)
    replies: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        status, headers = self.replies.pop(0) if self.replies else (200, {})
        body = await request.read()
        self.received.append(Received(request.path, dict(request.headers), body, status))
        self.arrived.set()
        return web.Response(status=status, headers=headers, text="ok")

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


@dataclass
class Api:
    """The bot as a client sees it, plus the engine behind it for the test to drive."""

    world: World
    container: Container
    platform: ApiPlatform
    http: aiohttp.ClientSession
    base: str
    receiver: Receiver
    callback_waits: list[float]

    async def key(self, name: str, credits: str | None = None) -> str:
        """A new key's token (its user `api:<name>`)."""
        return (await self.issue(name, credits)).token

    async def issue(self, name: str, credits: str | None = None) -> IssuedKey:
        return await create_key(self.container, name, credits)

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
    ) -> tuple[int, Any, dict[str, str]]:
        sent = {**(self.auth(token) if token else {}), **(headers or {})}
        kwargs: dict[str, Any] = {"headers": sent, "allow_redirects": False}
        if body is not None:
            kwargs["json"] = body
        if data is not None:
            kwargs["data"] = data
        async with self.http.request(method, f"{self.base}{path}", **kwargs) as response:
            raw = await response.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw
            return response.status, parsed, dict(response.headers)

    async def run(self, run_id: str) -> Run:
        found = await self.container.runs_store.get(run_id)
        assert found is not None
        return found

    async def settle(self) -> None:
        await self.container.delivery.drain()

    async def finish(self, run_id: str) -> Run:
        """The backend runs it to the end; returns the run once its delivery is done."""
        run = await self.run(run_id)
        assert run.backend_run_id is not None
        await self.world.sim.finish(run.backend_run_id)
        await self.settle()
        return await self.run(run_id)


def png(width: int = 8, height: int = 6) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


@asynccontextmanager
async def api_bot(
    mongo_uri: str,
    tmp_path: Path,
    extra_backends: Sequence[WorkflowBackend] = (),
    previews: PreviewBoard | None = None,
    **overrides: Any,
) -> AsyncIterator[Api]:
    """`previews`: the preview board the extra backends put previews on."""
    receiver = Receiver()
    receiving = web.Application()
    receiving.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(receiving, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    waits: list[float] = []

    async def record_wait(seconds: float) -> None:
        waits.append(seconds)

    try:
        async with world(mongo_uri, tmp_path, **overrides) as w:
            container = await build_container(
                w.settings,
                backends=[w.simulated(w.sim), *extra_backends],
                clock=w.clock,
                delivery_policy=DeliveryPolicy(progress_interval_s=0),
                previews=previews,
            )
            try:
                platform = api_platform(container, callback_sleep=record_wait)
                container.delivery.add_notifier(platform.notifier)
                server = await container.start_http(platform.routes())
                await container.start_engine()
                async with aiohttp.ClientSession() as http:
                    yield Api(w, container, platform, http, server.base_url, receiver, waits)
                    await container.delivery.drain()
            finally:
                await platform.stop()
                await container.close()
    finally:
        await runner.cleanup()
