"""Every backend implementation with the server it talks to, driven by hand, for the contract
suite: the ComfyDeploy simulator, the Comfy API v2 (the real comfy-api-proxy in front of the
fake ComfyUI) and the fake RunComfy Serverless API. A rig starts the server, builds the backend
on it (retry waits recorded, never slept) and moves runs along when a test asks."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

from adapters.comfyapi import ComfyApiBackend, ComfyApiClient
from adapters.comfydeploy import ComfyDeployBackend, ComfyDeployClient
from adapters.runcomfy import RunComfyBackend, RunComfyClient
from adapters.simulator import SimulatorServer
from core.ports import WorkflowBackend
from tests.fakes.comfyui_graphs import img2img, txt2img
from tests.fakes.comfyui_stack import ComfyApiStack
from tests.fakes.runcomfy_api import FakeRunComfy


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
