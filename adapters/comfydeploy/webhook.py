"""POST <webhook path>?run=<our id>&token=<hmac>: a ComfyDeploy status event for one run.

ComfyDeploy does not sign webhooks (see https://github.com/comfy-deploy/api/blob/main/src/api/routes/run.py),
so the URL carries our own HMAC token.
Answers fast: the event is recorded before the reply; showing it to the chat happens later.
4xx (and nothing changed) for a bad token, a malformed or oversized body, or an unknown run;
409 for a run not yet marked submitted, so ComfyDeploy's retries bring the event again.

A webhook is authenticated only by its URL, so its outputs are never used: they come from the
API's own GET of the run, which a terminal webhook triggers (it also gives the timestamps for an
exact cost). When that GET says the run is not over, the webhook is not believed and the GET's
state is applied instead; when the GET fails, nothing is applied (503: ComfyDeploy retries) and
the run is polled at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Protocol

from aiohttp import web

from adapters.comfydeploy.events import MalformedEvent, parse_webhook
from core.errors import BackendError
from core.ingress import WebhookIngress
from core.models import RunEvent

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
ENRICH_TIMEOUT_S = 5.0
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,48}")
"""What our run ids look like: anything else in a URL is not logged as it came."""


class RunLookup(Protocol):
    """What the route needs of the API client: the run as the API reports it."""

    async def get_run(self, backend_run_id: str) -> RunEvent: ...


class ComfyDeployWebhook:
    def __init__(self, ingress: WebhookIngress, client: RunLookup, backend: str) -> None:
        self._ingress = ingress
        self._client = client
        self._backend = backend

    async def handle(self, request: web.Request) -> web.Response:
        runs, tokens = request.query.getall("run", []), request.query.getall("token", [])
        if len(runs) > 1 or len(tokens) > 1:
            return self._refuse(400, "ambiguous", "-", "run or token given more than once")
        run_id = runs[0] if runs else ""
        if not self._ingress.authentic(run_id, tokens[0] if tokens else ""):
            return _answer(403, "bad or missing token", run_id or "-")
        event = await self._parse(request, run_id)
        if isinstance(event, web.Response):
            return event
        screened = await self._ingress.screen(run_id, event, self._backend)
        if screened is not None:
            return _answer(screened.http_status, screened.value, run_id)
        if event.status.terminal:
            confirmed = await self._confirmed(event)
            if confirmed is None:
                outcome = await self._ingress.unconfirmed(run_id, event)
                return _answer(outcome.http_status, outcome.value, run_id)
            event = confirmed
        else:
            event = event.model_copy(update={"outputs": ()})
        outcome = await self._ingress.accept(run_id, event, self._backend)
        return _answer(outcome.http_status, outcome.value, run_id)

    async def _parse(self, request: web.Request, run_id: str) -> RunEvent | web.Response:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return self._refuse(413, "oversized", run_id, "body too large")
        body = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return self._refuse(413, "oversized", run_id, "body too large")
        try:
            return parse_webhook(json.loads(body))
        except (ValueError, MalformedEvent) as error:
            return self._refuse(400, "malformed", run_id, f"malformed body: {error}")

    async def _confirmed(self, event: RunEvent) -> RunEvent | None:
        """The terminal event as the API's own GET reports it, timestamps and outputs included;
        None when the API could not be asked."""
        try:
            async with asyncio.timeout(ENRICH_TIMEOUT_S):
                polled = await self._client.get_run(event.backend_run_id)
        except (BackendError, TimeoutError) as error:
            log.info("run %s: no confirmation of its end (%s)", event.backend_run_id, error)
            return None
        if not polled.status.terminal:
            log.warning(
                "run %s: webhook says %s, the API says %s; keeping the API's",
                event.backend_run_id,
                event.status.value,
                polled.status.value,
            )
            return polled
        return event.model_copy(
            update={
                "status": polled.status,
                "queued_at": polled.queued_at,
                "started_at": polled.started_at,
                "ended_at": polled.ended_at,
                "outputs": polled.outputs,
                "gpu": polled.gpu or event.gpu,
            }
        )

    def _refuse(self, status: int, outcome: str, run_id: str, reason: str) -> web.Response:
        self._ingress.refused(outcome)
        return _answer(status, reason, run_id)


def _answer(status: int, reason: str, run_id: str) -> web.Response:
    if status >= 400:
        shown = run_id if _RUN_ID.fullmatch(run_id) else "(malformed id)"
        log.warning("webhook for run %s refused (%d): %s", shown, status, reason)
        return web.json_response({"detail": reason}, status=status)
    return web.json_response({"message": "success"})
