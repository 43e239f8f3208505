"""POST <webhook path>?run=<our id>&token=<hmac>: a RunComfy status callback for one run.

RunComfy does not sign its webhooks; it retries a non-2xx answer, and deliveries may be
duplicated or arrive out of order (https://docs.runcomfy.com/serverless/webhooks). So the URL
carries our own HMAC token, the body is size-limited and checked, and then it is only a hint:
the request is read back from the API (status, and the result once it ended) and that is what
is applied, with its outputs. A request queued right after its submit is not called a cold
start here: polls of a request that stays queued say so. When the API cannot be read, an
unfinished state from the body is applied as it came (it names no URL); an end is refused
with 503, so RunComfy brings it again, and the run is polled at once. A callback for a run
whose submit got no answer names the request that submit made (only RunComfy knows that run's
URL): it is recorded once the API confirms the request exists (`witness`, the backend's
`locate`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Protocol

from aiohttp import web

from adapters.runcomfy.reports import MalformedReport, webhook_event
from core.errors import BackendError
from core.ingress import WebhookIngress
from core.models import RunEvent, RunStatus
from core.ports import RunAddress

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
CONFIRM_TIMEOUT_S = 5.0
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,48}")
_DEPLOYMENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}")


class Requests(Protocol):
    """What the route needs of the backend."""

    @property
    def name(self) -> str: ...

    async def get_run(self, address: RunAddress) -> RunEvent:
        """The request as the API reports it."""
        ...

    def witness(self, run_id: str, address: RunAddress) -> None:
        """A callback under our run's token named this request, and the API knows it."""
        ...


class RunComfyWebhook:
    def __init__(self, ingress: WebhookIngress, requests: Requests) -> None:
        self._ingress = ingress
        self._requests = requests

    async def handle(self, request: web.Request) -> web.Response:
        runs, tokens = request.query.getall("run", []), request.query.getall("token", [])
        if len(runs) > 1 or len(tokens) > 1:
            return self._refuse(400, "ambiguous", "-", "run or token given more than once")
        run_id = runs[0] if runs else ""
        if not self._ingress.authentic(run_id, tokens[0] if tokens else ""):
            return _answer(403, "bad or missing token", run_id or "-")
        parsed = await self._parse(request, run_id)
        if isinstance(parsed, web.Response):
            return parsed
        told, deployment_id = parsed
        backend = self._requests.name
        screened = await self._ingress.screen(run_id, told, backend)
        if screened is not None:
            return _answer(screened.http_status, screened.value, run_id)
        event = await self._confirmed(run_id, told, deployment_id)
        if event is None:
            outcome = await self._ingress.unconfirmed(run_id, told)
            return _answer(outcome.http_status, outcome.value, run_id)
        outcome = await self._ingress.accept(run_id, event, backend)
        return _answer(outcome.http_status, outcome.value, run_id)

    async def _parse(
        self, request: web.Request, run_id: str
    ) -> tuple[RunEvent, str] | web.Response:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return self._refuse(413, "oversized", run_id, "body too large")
        body = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return self._refuse(413, "oversized", run_id, "body too large")
        try:
            data = json.loads(body)
            event = webhook_event(data)
        except (ValueError, MalformedReport) as error:
            return self._refuse(400, "malformed", run_id, f"malformed body: {error}")
        deployment_id = data.get("deployment_id")
        if not isinstance(deployment_id, str) or not _DEPLOYMENT_ID.fullmatch(deployment_id):
            return self._refuse(400, "malformed", run_id, "malformed body: no deployment_id")
        return event, deployment_id

    async def _confirmed(self, run_id: str, told: RunEvent, deployment_id: str) -> RunEvent | None:
        """The request as the API reports it; the body's own (unfinished) state, without
        outputs, if the API cannot say; None for an end that could not be confirmed."""
        address = RunAddress(deployment_id, told.backend_run_id)
        try:
            async with asyncio.timeout(CONFIRM_TIMEOUT_S):
                polled = await self._requests.get_run(address)
        except (BackendError, TimeoutError) as error:
            log.info("runcomfy request %s: not confirmed (%s)", told.backend_run_id, error)
            return None if told.status.terminal else told.model_copy(update={"outputs": ()})
        self._requests.witness(run_id, address)
        if told.status.terminal and not polled.status.terminal:
            log.warning(
                "runcomfy request %s: webhook says %s, the API says %s; keeping the API's",
                told.backend_run_id,
                told.status.value,
                polled.status.value,
            )
        update: dict[str, object] = {"source": told.source}
        if polled.status is RunStatus.QUEUED:
            # Queued right after the submit is no cold start (yet): a poll of a request that
            # stays queued says so, and it must move the run forward to be applied.
            update.update(live_status=None, queue_position=None)
        return polled.model_copy(update=update)

    def _refuse(self, status: int, outcome: str, run_id: str, reason: str) -> web.Response:
        self._ingress.refused(outcome)
        return _answer(status, reason, run_id)


def _answer(status: int, reason: str, run_id: str) -> web.Response:
    if status >= 400:
        shown = run_id if _RUN_ID.fullmatch(run_id) else "(malformed id)"
        log.warning("runcomfy webhook for run %s refused (%d): %s", shown, status, reason)
        return web.json_response({"detail": reason}, status=status)
    return web.json_response({"message": "success"})
