"""GET /healthz (database and backend status) and GET /metrics (Prometheus text format)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from core.metrics import Metrics
from core.models import RunStatus
from core.ports import RunStore

Ping = Callable[[], Awaitable[bool]]
PING_TIMEOUT_S = 3.0


class Observability:
    def __init__(self, store: RunStore, metrics: Metrics, db_ping: Ping, backend_ping: Ping):
        self._store = store
        self._metrics = metrics
        self._db_ping = db_ping
        self._backend_ping = backend_ping

    async def health(self, request: web.Request) -> web.Response:
        database, backend = await asyncio.gather(
            _bounded(self._db_ping), _bounded(self._backend_ping)
        )
        body = {"database": "ok" if database else "down", "backend": "ok" if backend else "down"}
        return web.json_response(body, status=200 if database else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        counts = await self._store.count_by_status()
        lines = ["# TYPE comfybot_runs gauge"]
        lines += [f'comfybot_runs{{status="{s.value}"}} {counts.get(s, 0)}' for s in RunStatus]
        lines.append("# TYPE comfybot_webhook_events_total counter")
        for (source, outcome), count in sorted(self._metrics.events.items()):
            lines.append(
                f'comfybot_webhook_events_total{{source="{source}",outcome="{outcome}"}} {count}'
            )
        lines.append("# TYPE comfybot_deliveries_total counter")
        for outcome, count in sorted(self._metrics.deliveries.items()):
            lines.append(f'comfybot_deliveries_total{{outcome="{outcome}"}} {count}')
        histogram = self._metrics.delivery_latency
        name = "comfybot_delivery_latency_seconds"
        lines.append(f"# TYPE {name} histogram")
        for bound, count in zip(histogram.buckets, histogram.counts, strict=True):
            lines.append(f'{name}_bucket{{le="{bound:g}"}} {count}')
        lines.append(f'{name}_bucket{{le="+Inf"}} {histogram.total}')
        lines.append(f"{name}_sum {histogram.sum:.6f}")
        lines.append(f"{name}_count {histogram.total}")
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


async def _bounded(ping: Ping) -> bool:
    try:
        async with asyncio.timeout(PING_TIMEOUT_S):
            return await ping()
    except Exception:
        return False
