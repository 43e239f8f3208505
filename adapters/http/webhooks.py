"""POST /webhooks/comfydeploy?run=<our id>&token=<hmac>: a ComfyDeploy status event for one run.

Answers fast: the event is recorded before the reply; showing it to the chat happens afterwards.
4xx (and nothing changed) for a bad token, a malformed or oversized body, or an unknown run;
409 for a run not yet marked submitted, so ComfyDeploy's retries bring the event again.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from adapters.comfydeploy.events import MalformedEvent, parse_webhook
from core.metrics import Metrics
from core.models import RunEvent
from core.ports import RunStore
from core.runs import RunManager
from core.webhook_tokens import WebhookSigner

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000


class ComfyDeployWebhook:
    def __init__(
        self, runs: RunManager, store: RunStore, signer: WebhookSigner, metrics: Metrics
    ) -> None:
        self._runs = runs
        self._store = store
        self._signer = signer
        self._metrics = metrics

    async def handle(self, request: web.Request) -> web.Response:
        run_id = request.query.get("run", "")
        if not run_id or not self._signer.verify(run_id, request.query.get("token", "")):
            return self._reject(403, "forbidden", run_id or "-", "bad or missing token")
        event = await self._parse(request, run_id)
        if isinstance(event, web.Response):
            return event
        if await self._runs.apply(run_id, event):
            return web.json_response({"message": "success"})
        run = await self._store.get(run_id)
        if run is None:
            return self._reject(404, "unknown", run_id, "unknown run")
        if run.backend_run_id is None:
            return self._reject(409, "early", run_id, "run not submitted yet")
        if run.backend_run_id != event.backend_run_id:
            return self._reject(409, "mismatch", run_id, "event is for another backend run")
        return web.json_response({"message": "success"})

    async def _parse(self, request: web.Request, run_id: str) -> RunEvent | web.Response:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return self._reject(413, "oversized", run_id, "body too large")
        try:
            raw = await request.content.read(MAX_BODY_BYTES + 1)
            if len(raw) > MAX_BODY_BYTES:
                return self._reject(413, "oversized", run_id, "body too large")
            return parse_webhook(json.loads(raw))
        except (ValueError, MalformedEvent) as error:
            return self._reject(400, "malformed", run_id, f"malformed body: {error}")

    def _reject(self, status: int, outcome: str, run_id: str, reason: str) -> web.Response:
        self._metrics.count_event("webhook", outcome)
        log.warning("webhook for run %s refused (%d): %s", run_id, status, reason)
        return web.json_response({"detail": reason}, status=status)
