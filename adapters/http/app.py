"""The bot's own aiohttp server: ComfyDeploy webhooks, health, metrics, and platform routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from adapters.http.observability import Observability
from adapters.http.webhooks import MAX_BODY_BYTES, ComfyDeployWebhook
from core.metrics import Metrics
from core.ports import RunStore
from core.runs import RunManager
from core.webhook_tokens import WEBHOOK_PATH, WebhookSigner

Ping = Callable[[], Awaitable[bool]]


def build_http_app(
    *,
    runs: RunManager,
    store: RunStore,
    signer: WebhookSigner,
    metrics: Metrics,
    db_ping: Ping,
    backend_ping: Ping,
    extra_routes: Iterable[web.RouteDef] = (),
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES + 1)
    webhook = ComfyDeployWebhook(runs, store, signer, metrics)
    observability = Observability(store, metrics, db_ping, backend_ping)
    app.router.add_post(WEBHOOK_PATH, webhook.handle)
    app.router.add_get("/healthz", observability.health)
    app.router.add_get("/metrics", observability.metrics)
    app.add_routes(list(extra_routes))
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
