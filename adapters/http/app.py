"""The bot's own aiohttp server: health, readiness, metrics, and the routes every backend and
platform registers for itself (their webhooks)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from adapters.http.observability import Observability
from core.metrics import Metrics
from core.ports import RunStore
from core.readiness import Readiness

Ping = Callable[[], Awaitable[bool]]
MAX_REQUEST_BYTES = 2_000_000
"""aiohttp's own cap on request bodies; each route reads within its own, smaller limit."""


def build_http_app(
    *,
    store: RunStore,
    metrics: Metrics,
    db_ping: Ping,
    backend_ping: Ping,
    routes: Iterable[web.RouteDef] = (),
    readiness: Readiness | None = None,
) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    observability = Observability(store, metrics, db_ping, backend_ping, readiness)
    app.router.add_get("/healthz", observability.health)
    app.router.add_get("/readyz", observability.ready)
    app.router.add_get("/metrics", observability.metrics)
    app.add_routes(list(routes))
    return app


class HttpServer:
    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
        self._host = host
        self._port = port
        self.port: int | None = None

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    async def stop(self) -> None:
        await self._runner.cleanup()
