"""Moving fake RunComfy requests along: queue (and cold start), run, finish, and their webhooks.

A request is `in_queue` until its deployment has a ready instance and it is advanced; then
`in_progress` (with an `instance_id`); the next step renders outputs and ends it `succeeded`, or
`failed` with an `error` list, or `cancelled` when a cancel was requested meanwhile. On
scale-from-zero RunComfy boots an instance first ("cold-start delays (3–5 minutes to boot)",
https://docs.runcomfy.com/create-a-deployment) and queue time is not billed
(https://docs.runcomfy.com/serverless/about-billing); no field documents the boot itself, so a
cold start shows as a long `in_queue` with a `queue_position`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from tests.fakes.runcomfy_media import MediaFetcher, MediaUnavailable, planned_failure, render
from tests.fakes.runcomfy_requests import (
    CANCELLED,
    FAILED,
    IN_PROGRESS,
    IN_QUEUE,
    SUCCEEDED,
    FakeRequest,
    WebhookShape,
    failure,
)
from tests.fakes.runcomfy_webhooks import WebhookSender
from tests.fakes.runcomfy_wire import JsonDict


class Outputs:
    """Output files served at `{root}/outputs/{request_id}/{filename}` without a token."""

    def __init__(self) -> None:
        self.root_url = ""
        self.files: dict[str, bytes] = {}
        self.expired: set[str] = set()

    def put(self, request_id: str, filename: str, data: bytes) -> str:
        path = f"{request_id}/{filename}"
        self.files[path] = data
        return f"{self.root_url}/outputs/{path}"

    def get(self, path: str) -> bytes | None:
        request_id = path.split("/", 1)[0]
        return None if request_id in self.expired else self.files.get(path)

    def of(self, request_id: str) -> list[bytes]:
        prefix = f"{request_id}/"
        return [data for path, data in self.files.items() if path.startswith(prefix)]


class RequestDriver:
    def __init__(
        self,
        webhooks: WebhookSender,
        media: MediaFetcher,
        outputs: Outputs,
        clock: Callable[[], datetime],
        shape: WebhookShape,
    ) -> None:
        self.webhooks = webhooks
        self.media = media
        self.outputs = outputs
        self.clock = clock
        self.shape = shape
        self._ready: defaultdict[str, asyncio.Event] = defaultdict(self._warm)
        self._instances: dict[str, str] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @staticmethod
    def _warm() -> asyncio.Event:
        event = asyncio.Event()
        event.set()
        return event

    # -- instances -----------------------------------------------------------------------

    def ready_event(self, deployment_id: str) -> asyncio.Event:
        return self._ready[deployment_id]

    def cold_start(self, deployment_id: str) -> None:
        """The deployment has no instance: its queued requests wait until `instance_ready`."""
        self._ready[deployment_id].clear()
        self._instances.pop(deployment_id, None)

    def instance_ready(self, deployment_id: str) -> None:
        self._ready[deployment_id].set()

    def _instance(self, deployment_id: str) -> str:
        return self._instances.setdefault(deployment_id, str(uuid.uuid4()))

    # -- steps ---------------------------------------------------------------------------

    def submitted(self, request: FakeRequest) -> asyncio.Task[None] | None:
        return self._emit(request)

    async def step(self, request: FakeRequest) -> asyncio.Task[None] | None:
        """One move; returns the task delivering the webhooks it caused (None if none)."""
        async with self._locks[request.id]:
            if request.terminal:
                return None
            if request.phase == IN_QUEUE:
                if not self._ready[request.deployment_id].is_set():
                    return None
                request.phase = IN_PROGRESS
                request.instance_id = self._instance(request.deployment_id)
                request.started_at = self.clock()
                return self._emit(request)
            if request.cancel_requested:
                return self.end(request, CANCELLED)
            if request.fail_with is not None:
                return self.end(request, FAILED, request.fail_with)
            return await self._run(request)

    def end(
        self, request: FakeRequest, phase: str, errors: list[JsonDict] | None = None
    ) -> asyncio.Task[None] | None:
        """Make a request terminal now (no-op if it already is) and announce it."""
        if request.terminal:
            return None
        request.phase = phase
        request.finished_at = self.clock()
        request.errors = list(errors or []) if phase == FAILED else []
        return self._emit(request)

    async def _run(self, request: FakeRequest) -> asyncio.Task[None] | None:
        graph = request.submission.graph
        reason = planned_failure(graph)
        if reason is not None:
            return self.end(request, FAILED, [failure(reason, "the prompt contains FAIL")])
        media: dict[tuple[str, str], bytes] = {}
        try:
            for item in request.submission.media:
                media[(item.node_id, item.field)] = await self.media.load(item)
            pictures = await render(graph, media)
        except MediaUnavailable as error:
            message = f"Failed to load input media: {error.url}"
            return self.end(request, FAILED, [failure(message, error.reason, 400)])
        if request.terminal:  # cancelled meanwhile
            return None
        outputs: JsonDict = {}
        number = 0
        for node_id, datas in pictures.items():
            images = []
            for data in datas:
                number += 1
                filename = f"ComfyUI_{number:05d}_.png"
                url = self.outputs.put(request.id, filename, data)
                images.append(
                    {"filename": filename, "subfolder": "", "type": "output", "url": url}
                )
            outputs[node_id] = {"images": images}
        request.outputs = outputs
        return self.end(request, SUCCEEDED)

    def _emit(self, request: FakeRequest) -> asyncio.Task[None] | None:
        if not (request.terminal or request.submission.intermediate):
            return None
        body = request.webhook_body(self.shape)
        return self.webhooks.emit(request.id, request.webhook, [body])
