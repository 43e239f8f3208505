"""An in-memory backend for unit tests of the engine: it offers what the test gives it and keeps
the runs it was sent. End-to-end tests use real servers (the simulator, the fakes) instead."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import BackendError, RunNotFound
from core.models import EventSource, RunEvent, RunStatus, UploadedFile
from core.ports import Job, RunAddress
from core.workflow import Deployment, Discovery, Workflow


@dataclass
class MemoryBackend:
    name: str = "memory"
    workflows: list[Workflow] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    prices: dict[str, float] = field(default_factory=dict)
    """USD per second by deployment id."""
    live_prices: dict[str, float] | None = None
    failure: BackendError | None = None
    """Raised by every call while set."""
    jobs: dict[str, Job] = field(default_factory=dict)
    webhook_path: str | None = None
    discoveries: int = 0

    def _check(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def discover(self) -> Discovery:
        self.discoveries += 1
        self._check()
        return Discovery(workflows=tuple(self.workflows), deployments=tuple(self.deployments))

    async def refresh_prices(self) -> None:
        self._check()
        if self.live_prices is not None:
            self.prices = dict(self.live_prices)

    def usd_per_second(self, deployment: Deployment | None) -> float | None:
        return self.prices.get(deployment.id) if deployment else None

    async def submit(self, job: Job) -> str:
        self._check()
        backend_id = f"{self.name}-run-{len(self.jobs) + 1}"
        self.jobs[backend_id] = job
        return backend_id

    async def locate(self, run_id: str, deployment_id: str) -> str | None:
        return next((b for b, job in self.jobs.items() if job.run_id == run_id), None)

    async def get_run(self, address: RunAddress) -> RunEvent:
        self._check()
        if address.backend_run_id not in self.jobs:
            raise RunNotFound("unknown run", 404)
        return RunEvent(
            backend_run_id=address.backend_run_id, status=RunStatus.QUEUED, source=EventSource.POLL
        )

    async def cancel(self, address: RunAddress) -> None:
        self._check()

    async def upload(self, file: UploadedFile) -> str:
        self._check()
        return f"https://{self.name}.invalid/{file.filename}"

    output_hosts: tuple[str, ...] = ("files.invalid",)

    async def download(self, url: str, target: Path, max_bytes: int) -> int:
        self._check()
        return 0

    async def ping(self) -> bool:
        return self.failure is None

    async def close(self) -> None:
        pass
