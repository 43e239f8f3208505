"""RunComfy's Serverless API as one of comfybot's backends (https://docs.runcomfy.com/serverless/
async-queue-endpoints).

- Workflows: the account's deployments (or the configured ones); inputs are the node fields
  each deployment exposes, sent as `overrides` keyed by node id; images go inline as data
  URIs (RunComfy downloads a URL itself, so an image given as a link is passed as it is).
- Runs: status webhooks with intermediate states (confirmed with the API, `webhook.py`), and
  status + result polling as the fallback; a queued request waiting for a GPU machine to boot
  shows as a cold start, not as a stuck run.
- Costs: per second by hardware tier (`pricing.py`).
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.runcomfy.catalog import DeploymentGraph, build_catalog
from adapters.runcomfy.client import RunComfyClient
from adapters.runcomfy.pricing import TierPrices
from adapters.runcomfy.reports import ended, result_event, state_of, waiting_event
from adapters.runcomfy.webhook import RunComfyWebhook
from core.errors import BackendError, BackendUnavailable, FileRejected, RunNotFound
from core.graph_values import place_values
from core.ingress import WebhookIngress
from core.models import EventSource, RunEvent, RunStatus, UploadedFile
from core.ports import Job, RunAddress
from core.workflow import Deployment, Discovery

log = logging.getLogger(__name__)

MAX_INLINE_BYTES = 10_000_000
"""Largest image sent inline: its data URI is kept with the run (a database document holds at
most 16 MB)."""
NOT_CANCELLABLE = "not_cancellable"
MAX_WITNESSED = 10_000


class RunComfyBackend:
    def __init__(
        self,
        client: RunComfyClient,
        deployment_ids: Sequence[str] = (),
        prices: TierPrices | None = None,
        name: str = "runcomfy",
        *,
        draw: Callable[[int], int] = secrets.randbelow,
    ) -> None:
        self.client = client
        self._ids = tuple(deployment_ids)
        self._prices = prices or TierPrices()
        self._name = name
        self._draw = draw
        self._graphs: dict[str, DeploymentGraph] = {}
        self._witnessed: dict[str, RunAddress] = {}
        """Our run -> the request a callback under its token named (the API knew it)."""

    @property
    def name(self) -> str:
        return self._name

    @property
    def webhook_path(self) -> str:
        return f"/webhooks/{self._name}"

    def routes(self, ingress: WebhookIngress) -> list[web.RouteDef]:
        """The route RunComfy posts this backend's status callbacks to."""
        return [web.post(self.webhook_path, RunComfyWebhook(ingress, self).handle)]

    async def discover(self) -> Discovery:
        discovery, graphs = build_catalog(await self.client.deployments(self._ids), self._name)
        self._graphs = graphs
        return discovery

    async def refresh_prices(self) -> None:
        """RunComfy publishes no price list to fetch; the tiers' prices are configured."""

    def usd_per_second(self, deployment: Deployment | None) -> float | None:
        return self._prices.usd_per_second(deployment.gpu if deployment else None)

    async def submit(self, job: Job) -> str:
        known = self._graphs.get(job.deployment_id)
        graph, own = (known.graph, known.inputs) if known else (None, ())
        overrides: dict[str, dict[str, Any]] = {}
        for place in place_values(graph, job.specs, own, job.inputs, self._draw):
            node = overrides.setdefault(place.binding.node_id, {"inputs": {}})
            node["inputs"][place.binding.field] = place.value
        try:
            return await self.client.submit(job.deployment_id, overrides, job.webhook_url)
        except RunNotFound as gone:  # the deployment: another one may take the run
            raise BackendUnavailable(str(gone), 404) from None

    def witness(self, run_id: str, address: RunAddress) -> None:
        if len(self._witnessed) >= MAX_WITNESSED:
            self._witnessed.pop(next(iter(self._witnessed)))
        self._witnessed[run_id] = address

    async def locate(self, run_id: str, deployment_id: str) -> str | None:
        """RunComfy lists no requests, so a request whose submit got no answer is found only
        through a callback to that run's URL (which only RunComfy was given): the request it
        named, if the API still knows it on that deployment."""
        seen = self._witnessed.get(run_id)
        if seen is None or seen.deployment_id != deployment_id:
            return None
        try:
            await self.client.status(deployment_id, seen.backend_run_id)
        except RunNotFound:
            return None
        return seen.backend_run_id

    async def get_run(self, address: RunAddress) -> RunEvent:
        dep, request_id = address.deployment_id, address.backend_run_id
        status = await self.client.status(dep, request_id)
        state = state_of(status, "status", "outcome")
        if not ended(state):
            known = self._graphs.get(dep)
            return waiting_event(request_id, status, state, known is None or known.scales_to_zero)
        final = result_event(
            request_id, await self.client.result(dep, request_id), EventSource.POLL
        )
        if final is None:  # the status is ahead of the result: not over yet
            return RunEvent(
                backend_run_id=request_id, status=RunStatus.RUNNING, source=EventSource.POLL
            )
        return final

    async def cancel(self, address: RunAddress) -> None:
        word = await self.client.cancel(address.deployment_id, address.backend_run_id)
        if word == NOT_CANCELLABLE:
            raise BackendError(f"request {address.backend_run_id} is not cancellable")

    async def upload(self, file: UploadedFile) -> str:
        """No upload API: the image travels inline, as a data URI."""
        if len(file.data) > MAX_INLINE_BYTES:
            raise FileRejected("input.image_too_large", limit_mb=f"{MAX_INLINE_BYTES / 1e6:g}")
        return f"data:{file.mime};base64,{base64.b64encode(file.data).decode()}"

    @property
    def output_hosts(self) -> tuple[str, ...]:
        """RunComfy's own hosts and the storage it signs output URLs for; another host it
        serves outputs from goes in OUTPUT_HOSTS."""
        return (self.client.origin, "*.runcomfy.net", "*.runcomfy.com", "*.amazonaws.com")

    async def download(self, url: str, target: Path, max_bytes: int) -> int:
        return await self.client.download(url, target, max_bytes)

    async def ping(self) -> bool:
        return await self.client.ping()

    async def check(self) -> str:
        """For `comfybot doctor`: the API takes the token, and what it offers."""
        await self.client.check_access()
        found = await self.discover()
        return f"{len(found.workflows)} workflows on {len(found.deployments)} deployments"

    async def close(self) -> None:
        await self.client.close()
