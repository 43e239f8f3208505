"""The Comfy API v2 as one of comfybot's backends: Comfy Cloud, Comfy API deployments, or a
self-hosted ComfyUI behind comfy-api-proxy (https://github.com/Comfy-Org/comfy-api-proxy).

- Workflows: API-format graph files in a folder; a run's values are written into a copy of
  the graph (`core.graph_inputs`), images as `core/ASSET` references to uploaded assets.
- Runs: created with an Idempotency-Key and a `metadata` label naming our run; the job itself
  (`GET /api/v2/jobs/{id}`) is the source of truth, its event stream the fast path for progress
  (`streams.py`); both feed the engine through its ingress.
- Costs: one price per second for the whole backend, 0 for a self-hosted ComfyUI.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.comfyapi.client import ComfyApiClient
from adapters.comfyapi.jobs import read_job, run_label, run_of
from adapters.comfyapi.streams import MAX_STREAMS, RunStreams
from adapters.comfyapi.workflows import GraphFile, discovery_of, read_graph, read_graphs
from core.errors import BackendError, BackendUnavailable
from core.graph_inputs import derive_inputs
from core.graph_values import place_values
from core.ingress import WebhookIngress
from core.models import EventSource, RunEvent, UploadedFile
from core.ports import Job, RunAddress
from core.previews import PreviewBoard
from core.workflow import Deployment, Discovery, InputType

log = logging.getLogger(__name__)


class ComfyApiBackend:
    def __init__(
        self,
        client: ComfyApiClient,
        workflows_dir: Path,
        usd_per_second: float | None,
        name: str = "comfyapi",
        *,
        max_streams: int = MAX_STREAMS,
        draw: Callable[[int], int] = secrets.randbelow,
        previews: PreviewBoard | None = None,
    ) -> None:
        """`previews`: where the runs' preview images go (none: they are ignored)."""
        self.client = client
        self._folder = workflows_dir
        self._rate = usd_per_second
        self._name = name
        self._draw = draw
        self._graphs: dict[str, GraphFile] = {}
        self.streams = RunStreams(client.events, self._stream_read, name, max_streams, previews)

    @property
    def name(self) -> str:
        return self._name

    @property
    def webhook_path(self) -> None:
        """No webhooks: its runs are followed over their event streams, and polled."""
        return None

    def attach_ingress(self, ingress: WebhookIngress) -> None:
        """Where followed runs' events go (the engine's ingress)."""
        self.streams.attach(ingress)

    async def discover(self) -> Discovery:
        self._graphs = await asyncio.to_thread(read_graphs, self._folder)
        return discovery_of(self._graphs, self._name)

    async def refresh_prices(self) -> None:
        """The price is configured, not published."""

    def usd_per_second(self, deployment: Deployment | None) -> float | None:
        return self._rate

    async def submit(self, job: Job) -> str:
        workflow = await self._graph(job.deployment_id)
        graph = self._filled(workflow, job)
        label = run_label(job.run_id, job.deployment_id)
        created = await self.client.submit(graph, key=label, label=label)
        job_id = str(created["id"])
        self.streams.follow(job.run_id, job_id)
        return job_id

    async def locate(self, run_id: str, deployment_id: str) -> str | None:
        """The job created for our run, by the label it was created with."""
        found = await self.client.find_job(run_label(run_id, deployment_id))
        return str(found["id"]) if found is not None else None

    async def get_run(self, address: RunAddress) -> RunEvent:
        job, event = await read_job(self.client.get_job, address.backend_run_id, EventSource.POLL)
        run_id = run_of(job)
        if run_id is not None and not event.status.terminal:  # e.g. after a restart
            self.streams.follow(run_id, address.backend_run_id)
        return event

    async def cancel(self, address: RunAddress) -> None:
        await self.client.cancel(address.backend_run_id)

    async def upload(self, file: UploadedFile) -> str:
        return await self.client.upload(file.filename, file.mime, file.data)

    @property
    def output_hosts(self) -> tuple[str, ...]:
        """The API's own origin (comfy-api-proxy serves outputs itself) and Comfy's hosts; a
        storage host Comfy Cloud signs its URLs for goes in OUTPUT_HOSTS."""
        return (str(self.client.origin), "*.comfy.org", "*.comfy.app")

    async def download(self, url: str, target: Path, max_bytes: int) -> int:
        return await self.client.download(url, target, max_bytes)

    async def ping(self) -> bool:
        return await self.client.ping()

    async def check(self) -> str:
        """For `comfybot doctor`: the server answers, takes the key, and its workflows."""
        if not await self.client.ping():
            raise BackendUnavailable(f"{self.client.base} does not answer")
        await self.client.check_access()
        found = await self.discover()
        return f"{len(found.workflows)} workflows in {self._folder} on {self.client.base}"

    async def close(self) -> None:
        await self.streams.close()
        await self.client.close()

    # -- graphs ----------------------------------------------------------------------------

    async def _graph(self, name: str) -> GraphFile:
        """The workflow's graph as discovered, else read now (a restart with no discovery)."""
        found = self._graphs.get(name)
        if found is not None:
            return found
        safe = name and "/" not in name and "\\" not in name and not name.startswith(".")
        graph = (
            await asyncio.to_thread(read_graph, self._folder / f"{name}.json") if safe else None
        )
        if graph is None:
            raise BackendUnavailable(f"no workflow {name} in {self._folder}")
        found = GraphFile(name, graph, derive_inputs(graph))
        self._graphs[name] = found
        return found

    def _filled(self, workflow: GraphFile, job: Job) -> dict[str, Any]:
        graph = copy.deepcopy(workflow.graph)
        placed = place_values(graph, job.specs, workflow.inputs, job.inputs, self._draw)
        for place in placed:
            value: Any = place.value
            if place.type is InputType.IMAGE:
                if not isinstance(value, str) or value.startswith(("http://", "https://")):
                    raise BackendError(
                        f"input {place.binding.field}: an image link, not an asset",
                        notice="submit.image_url_unsupported",
                    )
                value = {"__type": "core/ASSET", "info": {"id": value}}
            graph[place.binding.node_id]["inputs"][place.binding.field] = copy.deepcopy(value)
        return graph

    async def _stream_read(self, job_id: str) -> RunEvent:
        return (await read_job(self.client.get_job, job_id, EventSource.STREAM))[1]
