"""Comfy API v2 in end-to-end tests: the real comfy-api-proxy in front of the fake ComfyUI, a
folder of workflow graphs, and comfybot's backend on top (retry waits recorded, not slept)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from adapters.comfyapi import ComfyApiBackend, ComfyApiClient
from adapters.comfyapi.streams import Followed
from core.models import Run
from tests.fakes.comfyui_graphs import failing, img2img, txt2img
from tests.fakes.comfyui_stack import ComfyApiStack

TOKEN = "proxy-token"
WAIT_LIMIT = 10.0


def write_workflows(folder: Path) -> Path:
    """txt2img, img2img (a LoadImage) and broken (fails at node 12) as API-format files."""
    folder.mkdir(parents=True, exist_ok=True)
    graphs = {"txt2img": txt2img(), "img2img": img2img("example.png"), "broken": failing()}
    for name, graph in graphs.items():
        (folder / f"{name}.json").write_text(json.dumps(graph))
    return folder


class ComfyApiRig:
    def __init__(self, stack: ComfyApiStack, folder: Path) -> None:
        self.stack = stack
        self.folder = folder
        self.waits: list[float] = []

    async def _sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    def backend(self, name: str = "comfyapi", rate: float | None = 0.0) -> ComfyApiBackend:
        client = ComfyApiClient(self.stack.api_url, TOKEN, timeout_s=5, sleep=self._sleep)
        return ComfyApiBackend(client, self.folder, rate, name)


async def followed(
    backend: ComfyApiBackend, run: Run, until: Callable[[Followed], bool]
) -> Followed:
    """Wait (bounded) until the run's event stream got that far, or ended."""
    assert run.backend_run_id is not None
    async with asyncio.timeout(WAIT_LIMIT):
        return await backend.streams.wait(run.backend_run_id, until)


async def streaming(
    rig: ComfyApiRig, backend: ComfyApiBackend, run: Run, sockets: int = 1
) -> None:
    """Wait until the run's stream is open and the proxy's `sockets`-th ComfyUI socket for it is
    connected: ComfyUI sends a job's events to its socket only, so what happens before that
    reaches the stream only at the proxy's next reconcile (15 s later)."""
    assert run.backend_run_id is not None
    job_id = run.backend_run_id
    await followed(backend, run, lambda f: f.handed >= 1)

    def connected() -> bool:
        mine = [r for r in rig.stack.comfy.hub.all if r.sid == job_id]
        return len(mine) >= sockets and bool(mine[-1].feature_flags) and not mine[-1].closed

    await rig.stack.comfy.wait_until(connected)
