"""Inference requests held by the fake RunComfy, and their status / result / webhook renderings.

Documented shapes (https://docs.runcomfy.com/serverless/async-queue-endpoints):
- submit -> `{request_id, status_url, result_url, cancel_url}`;
- status -> `{request_id, status, queue_position?, instance_id?, status_url, result_url}` with
  `status` in `in_queue`, `in_progress`, `completed` (and `cancelled`). A third-party client
  notes that a failed request also reads `completed` there and only the result says `failed`
  (https://github.com/iguanesolutions/go-runcomfyserverless, `actions.go`); `StatusSpelling`
  lets a test pick `failed` or the `canceled` spelling instead;
- result -> `{status: succeeded|failed|cancelled, created_at, finished_at, outputs, error?}`,
  `outputs = {node_id: {images: [{filename, subfolder, type, url}]}}`, `error` a list of
  `{errorCode, error, debugInfo}`. While a request is unfinished the result answers 200 with
  its current status (`in_queue` / `in_progress`) and no outputs: RunComfy's CLI prints such a
  payload as "not finished yet" (https://github.com/runcomfy-com/runcomfy-cli,
  `src/cmd/mod.rs`);
- webhooks (https://docs.runcomfy.com/serverless/webhooks): JSON with `request_id`,
  `deployment_id`, `status` and/or `outcome`, `created_at` / `finished_at`, and on success the
  result's outputs. The docs name that key `output` on one page and `outputs` on another;
  `WebhookShape` chooses.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from tests.fakes.runcomfy_validation import Submission
from tests.fakes.runcomfy_wire import JsonDict, iso

IN_QUEUE = "in_queue"
IN_PROGRESS = "in_progress"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})


@dataclass(frozen=True)
class StatusSpelling:
    """What `GET …/status` says for each terminal outcome."""

    succeeded: str = "completed"
    failed: str = "completed"
    cancelled: str = "cancelled"

    def of(self, phase: str) -> str:
        return {SUCCEEDED: self.succeeded, FAILED: self.failed, CANCELLED: self.cancelled}.get(
            phase, phase
        )


@dataclass(frozen=True)
class WebhookShape:
    """Which of the documented alternatives webhook bodies use."""

    output_key: Literal["outputs", "output", "both"] = "outputs"
    status: bool = True
    """Include `status`."""
    outcome: bool = False
    """Include `outcome` (the same value) on terminal bodies."""


def failure(message: str, debug: str = "", code: int = 500) -> JsonDict:
    """One entry of a result's `error` list."""
    return {"errorCode": code, "error": message, "debugInfo": debug}


@dataclass
class FakeRequest:
    id: str
    deployment_id: str
    api_version: str
    """`v1` or `v2`: the path family it was submitted on, used for its tracking URLs."""
    submission: Submission
    body: Any
    """The JSON body exactly as the client sent it."""
    query: dict[str, str]
    created_at: datetime
    phase: str = IN_QUEUE
    instance_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    outputs: JsonDict = field(default_factory=dict)
    errors: list[JsonDict] = field(default_factory=list)
    cancel_requested: bool = False
    fail_with: list[JsonDict] | None = None
    """When set, the run step that would finish the request fails it with these errors."""

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL

    @property
    def overrides(self) -> JsonDict:
        return self.submission.overrides

    @property
    def webhook(self) -> str | None:
        return self.submission.webhook

    def urls(self, root_url: str) -> dict[str, str]:
        base = f"{root_url}/prod/{self.api_version}/deployments/{self.deployment_id}"
        base += f"/requests/{self.id}"
        return {
            "status_url": f"{base}/status",
            "result_url": f"{base}/result",
            "cancel_url": f"{base}/cancel",
        }

    def submit_json(self, root_url: str) -> JsonDict:
        return {"request_id": self.id, **self.urls(root_url)}

    def status_json(
        self, root_url: str, spelling: StatusSpelling, queue_position: int | None
    ) -> JsonDict:
        urls = self.urls(root_url)
        body: JsonDict = {"request_id": self.id, "status": spelling.of(self.phase)}
        if self.phase == IN_QUEUE and queue_position is not None:
            body["queue_position"] = queue_position
        if self.instance_id is not None:
            body["instance_id"] = self.instance_id
        body["status_url"] = urls["status_url"]
        body["result_url"] = urls["result_url"]
        return body

    def result_json(self) -> JsonDict:
        body: JsonDict = {
            "status": self.phase,
            "created_at": iso(self.created_at),
            "finished_at": iso(self.finished_at),
        }
        if self.phase == SUCCEEDED:
            body["outputs"] = self.outputs
        if self.phase == FAILED:
            body["error"] = self.errors
        return body

    def webhook_body(self, shape: WebhookShape) -> JsonDict:
        body: JsonDict = {"request_id": self.id, "deployment_id": self.deployment_id}
        if shape.status:
            body["status"] = self.phase
        if shape.outcome and self.terminal:
            body["outcome"] = self.phase
        body["created_at"] = iso(self.created_at)
        if self.terminal:
            body["finished_at"] = iso(self.finished_at)
        if self.phase == SUCCEEDED:
            if shape.output_key in {"outputs", "both"}:
                body["outputs"] = self.outputs
            if shape.output_key in {"output", "both"}:
                body["output"] = self.outputs
        if self.phase == FAILED:
            body["error"] = self.errors
        return body


class RequestBook:
    """Every request the fake accepted, by id, in submission order."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._requests: dict[str, FakeRequest] = {}

    def create(
        self,
        deployment_id: str,
        api_version: str,
        submission: Submission,
        body: Any,
        query: dict[str, str],
    ) -> FakeRequest:
        request = FakeRequest(
            id=str(uuid.uuid4()),
            deployment_id=deployment_id,
            api_version=api_version,
            submission=submission,
            body=body,
            query=query,
            created_at=self._clock(),
        )
        self._requests[request.id] = request
        return request

    def get(self, request_id: str) -> FakeRequest | None:
        return self._requests.get(request_id)

    def all(self) -> list[FakeRequest]:
        return list(self._requests.values())

    def queue_position(self, request: FakeRequest) -> int | None:
        """Requests of the same deployment waiting ahead of this one (0 = next in line)."""
        if request.phase != IN_QUEUE:
            return None
        ahead = 0
        for other in self._requests.values():
            if other is request:
                return ahead
            ahead += other.deployment_id == request.deployment_id and other.phase == IN_QUEUE
        return ahead
