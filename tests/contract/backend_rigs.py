"""Every backend implementation with the server it talks to, driven by hand, for the contract
suite: the ComfyDeploy simulator, the Comfy API v2 (the real comfy-api-proxy in front of the
fake ComfyUI) and the fake RunComfy Serverless API. A rig starts the server, builds the backend
on it (retry waits recorded, never slept) and moves runs along when a test asks."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

from adapters.comfyapi import ComfyApiBackend, ComfyApiClient
from adapters.comfyapi.streams import Followed
from adapters.comfydeploy import ComfyDeployBackend, ComfyDeployClient
from adapters.runcomfy import RunComfyBackend, RunComfyClient
from adapters.simulator import SimulatorServer
from core.models import RunStatus
from core.ports import WorkflowBackend
from tests.fakes.comfyui_graphs import img2img, txt2img
from tests.fakes.comfyui_stack import ComfyApiStack
from tests.fakes.runcomfy_api import FakeRunComfy

WAIT_LIMIT = 10.0


class Rig(Protocol):
    backend: WorkflowBackend
    unknown_run_id: str
    """A run id of the backend's own form that it never issued."""
    extra_inputs: dict[str, Any]
    """Inputs that keep a test run small on this backend."""

    async def start(self, backend_run_id: str) -> None:
        """Move the run until it is running."""
        ...

    async def finish(self, backend_run_id: str) -> None:
        """Move the run to its end (a cancel asked for takes effect)."""
        ...

    async def listening(self, backend_run_id: str) -> None:
        """Return once the backend's own events of this run will reach comfybot."""
        ...

    async def heard(self, backend_run_id: str, end: bool) -> None:
        """Return once comfybot's ingress was handed the events sent so far (up to the run's
        end when `end`)."""
        ...


async def _no_wait(seconds: float) -> None:
    return None


class ComfyDeployRig:
    unknown_run_id = "00000000-0000-4000-8000-00000000beef"
    extra_inputs: dict[str, Any] = {"width": 32, "height": 32}

    def __init__(self, sim: SimulatorServer) -> None:
        self.sim = sim
        client = ComfyDeployClient(sim.base_url, "sim-key", timeout_s=5, sleep=_no_wait)
        self.backend: WorkflowBackend = ComfyDeployBackend(client)

    async def start(self, backend_run_id: str) -> None:
        while self.sim.run(backend_run_id).status not in ("started", "running"):
            await self.sim.advance(backend_run_id)

    async def finish(self, backend_run_id: str) -> None:
        await self.sim.finish(backend_run_id)

    async def listening(self, backend_run_id: str) -> None:
        return None  # webhooks: sent as the run moves

    async def heard(self, backend_run_id: str, end: bool) -> None:
        await self.sim.drain_webhooks()


class ComfyApiRig:
    unknown_run_id = "00000000-0000-4000-8000-00000000beef"
    extra_inputs: dict[str, Any] = {}

    def __init__(self, stack: ComfyApiStack, folder: Path) -> None:
        self.stack = stack
        client = ComfyApiClient(stack.api_url, "contract", timeout_s=5, sleep=_no_wait)
        self.backend: WorkflowBackend = ComfyApiBackend(client, folder, 0.0)

    async def start(self, backend_run_id: str) -> None:
        await self.stack.comfy.step(backend_run_id)
        await self.stack.comfy.step(backend_run_id)

    async def finish(self, backend_run_id: str) -> None:
        if backend_run_id not in self.stack.comfy.history:
            await self.stack.comfy.finish(backend_run_id)

    async def listening(self, backend_run_id: str) -> None:
        """The run's event stream is open, and the proxy's ComfyUI socket for the job is
        connected (ComfyUI sends a job's events to its own socket only)."""
        await self._followed(backend_run_id, lambda f: f.handed >= 1)

        def connected() -> bool:
            mine = [r for r in self.stack.comfy.hub.all if r.sid == backend_run_id]
            return bool(mine) and bool(mine[-1].feature_flags) and not mine[-1].closed

        await self.stack.comfy.wait_until(connected)

    async def heard(self, backend_run_id: str, end: bool) -> None:
        def far_enough(f: Followed) -> bool:
            if end:
                return f.done
            return f.last is not None and f.last.status.rank >= RunStatus.STARTED.rank

        await self._followed(backend_run_id, far_enough)

    async def _followed(self, backend_run_id: str, until: Callable[[Followed], bool]) -> None:
        assert isinstance(self.backend, ComfyApiBackend)
        async with asyncio.timeout(WAIT_LIMIT):
            await self.backend.streams.wait(backend_run_id, until)


class RunComfyRig:
    unknown_run_id = "00000000-0000-4000-8000-00000000beef"
    extra_inputs: dict[str, Any] = {}

    def __init__(self, rc: FakeRunComfy) -> None:
        self.rc = rc
        client = RunComfyClient(rc.base_url, rc.api_key, timeout_s=5, sleep=_no_wait)
        self.backend: WorkflowBackend = RunComfyBackend(client)

    async def start(self, backend_run_id: str) -> None:
        await self.rc.advance(backend_run_id)

    async def finish(self, backend_run_id: str) -> None:
        await self.rc.finish(backend_run_id)

    async def listening(self, backend_run_id: str) -> None:
        return None  # webhooks with intermediate status: sent as the request moves

    async def heard(self, backend_run_id: str, end: bool) -> None:
        await self.rc.drain_webhooks()


@contextlib.asynccontextmanager
async def comfydeploy_rig(tmp: Path) -> AsyncIterator[Rig]:
    async with SimulatorServer(mode="manual", webhook_backoff=(0.0, 0.0)) as sim:
        rig = ComfyDeployRig(sim)
        try:
            yield rig
        finally:
            await rig.backend.close()


@contextlib.asynccontextmanager
async def comfyapi_rig(tmp: Path) -> AsyncIterator[Rig]:
    folder = tmp / "workflows"
    folder.mkdir()
    (folder / "txt2img.json").write_text(json.dumps(txt2img()))
    (folder / "img2img.json").write_text(json.dumps(img2img("example.png")))
    async with ComfyApiStack(mode="manual", token="contract") as stack:
        rig = ComfyApiRig(stack, folder)
        try:
            yield rig
        finally:
            await rig.backend.close()


@contextlib.asynccontextmanager
async def runcomfy_rig(tmp: Path) -> AsyncIterator[Rig]:
    async with FakeRunComfy(webhook_backoff=(0.0,)) as rc:
        rig = RunComfyRig(rc)
        try:
            yield rig
        finally:
            await rig.backend.close()


RIGS: dict[str, Callable[[Path], contextlib.AbstractAsyncContextManager[Rig]]] = {
    "comfydeploy": comfydeploy_rig,
    "comfyapi": comfyapi_rig,
    "runcomfy": runcomfy_rig,
}
