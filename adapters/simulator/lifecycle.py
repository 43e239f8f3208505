"""Moving runs along their plan: status changes, progress, outputs, and the webhooks they cause."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
from PIL import UnidentifiedImageError

from adapters.simulator import images
from adapters.simulator.files import FileStore, InputUnavailable
from adapters.simulator.runs import SimOutput, SimRun, Step
from adapters.simulator.webhooks import WebhookSender
from adapters.simulator.wire import JsonDict

log = logging.getLogger(__name__)


def _int(value: Any, default: int) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def _float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "on"}
    return bool(value)


class RunDriver:
    def __init__(
        self,
        files: FileStore,
        webhooks: WebhookSender,
        clock: Callable[[], datetime],
        fetch_timeout: float = 10.0,
    ) -> None:
        self._files = files
        self._webhooks = webhooks
        self._clock = clock
        self._fetch_timeout = fetch_timeout
        self.session: aiohttp.ClientSession | None = None
        """For fetching input images by URL; set by the server while it runs."""

    async def step(self, run: SimRun) -> asyncio.Task[None] | None:
        """Apply the run's next step; returns the task delivering the webhooks it caused."""
        if run.terminal or run.next_step >= len(run.plan):
            return None
        step = run.plan[run.next_step]
        run.next_step += 1
        bodies: list[JsonDict] = []
        output: SimOutput | None = None
        if step.makes_outputs:
            try:
                output = await self._make_output(run)
            except (InputUnavailable, UnidentifiedImageError, OSError) as error:
                log.info("simulated run %s failed: %s", run.id, error)
                if run.terminal:
                    return None
                run.set_status("failed", self._clock())
                return self._emit(run, [run.webhook_body()])
            if run.terminal:  # cancelled while rendering
                return None
            run.outputs.append(output)
        updates = self._apply(run, step)
        if output is not None and run.wants_output_events:
            bodies.append(run.webhook_body("run.output", outputs=[output.to_webhook_json()]))
        bodies.extend(updates)
        return self._emit(run, bodies)

    def cancel(self, run: SimRun) -> asyncio.Task[None] | None:
        """An API cancel: terminal runs stay as they are; others become `cancelled`."""
        if run.terminal:
            return None
        run.set_status("cancelled", self._clock())
        return self._emit(run, [run.webhook_body()])

    def _emit(self, run: SimRun, bodies: list[JsonDict]) -> asyncio.Task[None] | None:
        return self._webhooks.emit(run.id, run.webhook, bodies)

    def _apply(self, run: SimRun, step: Step) -> list[JsonDict]:
        if step.progress is not None:
            run.progress = step.progress
            run.live_status = step.live_status
            run.updated_at = self._clock()
        if step.status is not None:
            run.set_status(step.status, self._clock())
            return [run.webhook_body()]
        return [run.webhook_body(outputs=[])] if run.intermediate else []

    async def _make_output(self, run: SimRun) -> SimOutput:
        pictures = await self._render(run)
        uploaded: list[JsonDict] = []
        for number, data in enumerate(pictures, start=1):
            filename = f"ComfyUI_{number:05d}_.png"
            url = self._files.put(f"outputs/{run.id}/{filename}", data, "image/png")
            uploaded.append(
                {
                    "url": url,
                    "type": "output",
                    "filename": filename,
                    "subfolder": "",
                    "is_public": True,
                    "upload_duration": round(0.05 + len(data) / 50_000_000, 3),
                }
            )
        return SimOutput(str(uuid.uuid4()), run.id, uploaded, self._clock())

    async def _render(self, run: SimRun) -> list[bytes]:
        values = run.settings()
        name = run.deployment.workflow_name
        if name == "txt2img":
            scale = 2 if _bool(values["hires"]) else 1
            width = _int(values["width"], 512) * scale
            height = _int(values["height"], 512) * scale
            seed = _int(values["seed"], 0)
            count = max(1, min(10, _int(values["batch_size"], 1)))
            prompt, style = str(values["prompt"]), str(values["style"])
            return [
                await asyncio.to_thread(
                    images.render_prompt, prompt, seed + i, style, width, height
                )
                for i in range(count)
            ]
        source = await self._input_image(values)
        if name == "img2img":
            denoise = _float(values["denoise"], 0.6)
            return [await asyncio.to_thread(images.render_edit, source, denoise)]
        scale = max(1, min(4, _int(values["scale"], 2)))
        return [await asyncio.to_thread(images.render_upscale, source, scale)]

    async def _input_image(self, values: dict[str, Any]) -> bytes:
        reference = values.get("input_image")
        if not isinstance(reference, str) or not reference:
            raise InputUnavailable("input_image is required")
        if self.session is None:
            raise InputUnavailable("the simulator is not running")
        return await self._files.resolve(reference, self.session, self._fetch_timeout)
