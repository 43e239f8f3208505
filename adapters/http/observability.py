"""GET /healthz (database and backend status), GET /readyz (whether to send this instance
traffic) and GET /metrics (Prometheus text format).

/healthz answers 503 only when the database does not answer: a liveness check. /readyz is for
a load balancer's health checks (e.g. HAProxy's `option httpchk`,
https://docs.haproxy.org/3.0/configuration.html#4.2-option%20httpchk): 200 when the database
answers, the engine has started and the instance is not draining; 503 otherwise, from the
moment a SIGTERM arrives, while the instance hands its work over."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from core.metrics import Metrics
from core.models import RunStatus
from core.ports import RunStore
from core.readiness import Readiness

Ping = Callable[[], Awaitable[bool]]
PING_TIMEOUT_S = 3.0


class Observability:
    def __init__(
        self,
        store: RunStore,
        metrics: Metrics,
        db_ping: Ping,
        backend_ping: Ping,
        readiness: Readiness | None = None,
    ):
        self._store = store
        self._metrics = metrics
        self._db_ping = db_ping
        self._backend_ping = backend_ping
        self._readiness = readiness or _always_ready()

    async def health(self, request: web.Request) -> web.Response:
        database, backend = await asyncio.gather(
            _bounded(self._db_ping), _bounded(self._backend_ping)
        )
        body = {"database": "ok" if database else "down", "backend": "ok" if backend else "down"}
        return web.json_response(body, status=200 if database else 503)

    async def ready(self, request: web.Request) -> web.Response:
        problem = self._readiness.problem()
        database = await _bounded(self._db_ping)
        if problem is None and not database:
            problem = "database down"
        body = {
            "ready": problem is None,
            "database": "ok" if database else "down",
            "engine": "started" if self._readiness.started else "starting",
            "draining": self._readiness.draining,
        }
        return web.json_response(body, status=200 if problem is None else 503)

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


def _always_ready() -> Readiness:
    readiness = Readiness()
    readiness.started = True
    return readiness
