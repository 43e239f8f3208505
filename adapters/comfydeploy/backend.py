"""ComfyDeploy as one of comfybot's backends: discovery, runs, files, its GPU price list and its
webhook route, on top of the HTTP client (https://www.comfydeploy.com/docs/v2/api-reference)."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from adapters.comfydeploy.client import ComfyDeployClient
from adapters.comfydeploy.pricing import GpuPrices
from adapters.comfydeploy.webhook import ComfyDeployWebhook
from core.ingress import WebhookIngress
from core.models import RunEvent, UploadedFile
from core.ports import Job, RunAddress
from core.workflow import Deployment, Discovery

log = logging.getLogger(__name__)


class ComfyDeployBackend:
    def __init__(self, client: ComfyDeployClient, name: str = "comfydeploy") -> None:
        self._client = client
        self._name = name
        self._prices = GpuPrices()

    @property
    def name(self) -> str:
        return self._name

    @property
    def webhook_path(self) -> str:
        return f"/webhooks/{self._name}"

    def routes(self, ingress: WebhookIngress) -> list[web.RouteDef]:
        """The route ComfyDeploy posts this backend's status events to."""
        route = ComfyDeployWebhook(ingress, self._client, self._name)
        return [web.post(self.webhook_path, route.handle)]

    async def discover(self) -> Discovery:
        workflows, deployments = await self._client.list_workflows(self._name)
        return Discovery(workflows=tuple(workflows), deployments=tuple(deployments))

    async def refresh_prices(self) -> None:
        self._prices.update(await self._client.gpu_prices())

    def usd_per_second(self, deployment: Deployment | None) -> float | None:
        return self._prices.rate_for(deployment.gpu if deployment else None)

    async def submit(self, job: Job) -> str:
        """ComfyDeploy binds inputs by name (its external input nodes), so `bind` is unused."""
        return await self._client.submit(job.deployment_id, job.inputs, job.webhook_url)

    async def locate(self, run_id: str, deployment_id: str) -> str | None:
        """A run's webhook URL carries our run id; without webhooks it cannot be found."""
        return await self._client.find_run(deployment_id, run_id)

    async def get_run(self, address: RunAddress) -> RunEvent:
        return await self._client.get_run(address.backend_run_id)

    async def cancel(self, address: RunAddress) -> None:
        await self._client.cancel(address.backend_run_id)

    async def upload(self, file: UploadedFile) -> str:
        return await self._client.upload(file.filename, file.mime, file.data)

    @property
    def output_hosts(self) -> tuple[str, ...]:
        """Its storage (S3 buckets, its own hosts) and the API's own origin."""
        return ("*.amazonaws.com", "*.comfydeploy.com", self._client.origin)

    async def download(self, url: str, target: Path, max_bytes: int) -> int:
        return await self._client.download(url, target, max_bytes)

    async def ping(self) -> bool:
        return await self._client.ping()

    async def close(self) -> None:
        await self._client.close()
