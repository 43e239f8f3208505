"""Run records: their state, the steps each run goes through, and their v2 JSON renderings."""

from __future__ import annotations

import re
import secrets
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from adapters.simulator.catalog import SIM_USER_ID, DeploymentDef
from adapters.simulator.wire import JsonDict, iso_millis_z, iso_z, seconds_between

TERMINAL = frozenset({"success", "failed", "timeout", "cancelled"})
WAITING = frozenset({"not-started", "queued"})
SAMPLER = "Executing KSampler"
SAVER = "Executing SaveImage"


@dataclass(frozen=True)
class Step:
    """One move of a run: a new status and/or progress, and whether outputs appear now."""

    status: str | None = None
    progress: float | None = None
    live_status: str | None = None
    makes_outputs: bool = False


_START = (Step("queued"), Step("started"), Step("running", 0.2, SAMPLER), Step(None, 0.4, SAMPLER))
SUCCESS_PLAN = (
    *_START,
    Step(None, 0.6, SAMPLER),
    Step(None, 0.8, SAMPLER),
    Step(None, 1.0, SAVER, makes_outputs=True),
    Step("success"),
)
FAILED_PLAN = (*_START, Step("failed"))
TIMEOUT_PLAN = (*_START, Step("timeout"))


def plan_for(inputs: dict[str, Any]) -> tuple[Step, ...]:
    """`FAIL` in the prompt ends in `failed`, `TIMEOUT` in `timeout`; otherwise `success`."""
    prompt = str(inputs.get("prompt", ""))
    if re.search(r"\bFAIL\b", prompt):
        return FAILED_PLAN
    if re.search(r"\bTIMEOUT\b", prompt):
        return TIMEOUT_PLAN
    return SUCCESS_PLAN


@dataclass
class SimOutput:
    """One output row: the images one node saved."""

    id: str
    run_id: str
    images: list[JsonDict]
    created_at: datetime
    output_id: str = "final_result"
    node_meta: JsonDict = field(
        default_factory=lambda: {"node_id": "9", "node_class": "SaveImage"}
    )

    def to_json(self) -> JsonDict:
        """As in `GET /api/run/{id}` (https://github.com/comfy-deploy/api/blob/main/src/api/routes/run.py)."""
        return {
            "id": self.id,
            "output_id": self.output_id,
            "run_id": self.run_id,
            "data": {"images": self.images},
            "node_meta": self.node_meta,
            "created_at": iso_z(self.created_at),
            "updated_at": iso_z(self.created_at),
            "type": None,
            "node_id": None,
        }

    def to_webhook_json(self) -> JsonDict:
        """As in webhook bodies: millisecond timestamps, no `type`/`node_id` (see
        https://github.com/comfy-deploy/api/blob/main/src/api/routes/run.py)."""
        stamp = iso_millis_z(self.created_at)
        return {
            "id": self.id,
            "output_id": self.output_id,
            "run_id": self.run_id,
            "data": {"images": self.images},
            "node_meta": self.node_meta,
            "created_at": stamp,
            "updated_at": stamp,
        }


def _function_call_id() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "fc-01" + "".join(secrets.choice(alphabet) for _ in range(24))


@dataclass
class SimRun:
    id: str
    deployment: DeploymentDef
    inputs: dict[str, Any]
    webhook: str | None
    intermediate: bool
    gpu: str
    created_at: datetime
    updated_at: datetime
    plan: tuple[Step, ...]
    status: str = "not-started"
    live_status: str | None = None
    progress: float = 0.0
    queued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    outputs: list[SimOutput] = field(default_factory=list)
    next_step: int = 0
    modal_function_call_id: str = field(default_factory=_function_call_id)
    gpu_event_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def wants_output_events(self) -> bool:
        """The webhook URL's `target_events` query lists `run.output`."""
        if not self.webhook:
            return False
        query = parse_qs(urlsplit(self.webhook).query)
        events = {e.strip() for v in query.get("target_events", []) for e in v.split(",")}
        return "run.output" in events

    def settings(self) -> dict[str, Any]:
        """The values the workflow runs with: the node defaults overridden by the inputs."""
        return {**self.deployment.defaults(), **self.inputs}

    def set_status(self, status: str, now: datetime) -> None:
        self.status = status
        self.updated_at = now
        if status == "queued":
            self.queued_at = now
        elif status == "started":
            self.started_at = now
        elif status in TERMINAL:
            self.ended_at = now

    def webhook_body(self, event_type: str = "run.updated", **changes: Any) -> JsonDict:
        """`{event_type, status, live_status, progress, run_id, outputs}` with all outputs."""
        body: JsonDict = {
            "event_type": event_type,
            "status": self.status,
            "live_status": self.live_status,
            "progress": self.progress,
            "run_id": self.id,
            "outputs": [o.to_webhook_json() for o in self.outputs],
        }
        body.update(changes)
        return body

    def to_json(self, queue_position: int | None = None) -> JsonDict:
        """A WorkflowRunModel (https://github.com/comfy-deploy/api/blob/main/src/api/routes/run.py)."""
        return {
            "id": self.id,
            "workflow_version_id": self.deployment.workflow_version_id,
            "workflow_inputs": self.inputs,
            "workflow_id": self.deployment.workflow_id,
            "machine_id": self.deployment.machine.id,
            "origin": "api",
            "status": self.status,
            "ended_at": iso_z(self.ended_at),
            "created_at": iso_z(self.created_at),
            "updated_at": iso_z(self.updated_at),
            "queued_at": iso_z(self.queued_at),
            "started_at": iso_z(self.started_at),
            "gpu_event_id": self.gpu_event_id if self.started_at else None,
            "gpu": self.gpu,
            "machine_version": None,
            "machine_type": "comfy-deploy-serverless",
            "modal_function_call_id": self.modal_function_call_id,
            "user_id": SIM_USER_ID,
            "org_id": None,
            "live_status": self.live_status,
            "progress": self.progress,
            "is_realtime": False,
            "webhook": self.webhook,
            "webhook_status": None,
            "webhook_intermediate_status": self.intermediate,
            "outputs": [o.to_json() for o in self.outputs],
            "number": 0,
            "duration": seconds_between(self.created_at, self.ended_at),
            "cold_start_duration": seconds_between(self.queued_at, self.started_at),
            "cold_start_duration_total": seconds_between(self.created_at, self.started_at),
            "run_duration": seconds_between(self.started_at, self.ended_at),
            "queue_position": queue_position,
        }


class RunBook:
    """Every run the simulator has accepted, by id, in creation order."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._runs: dict[str, SimRun] = {}

    def create(
        self,
        deployment: DeploymentDef,
        inputs: dict[str, Any],
        webhook: str | None,
        intermediate: bool,
        gpu: str | None,
    ) -> SimRun:
        now = self._clock()
        run = SimRun(
            id=str(uuid.uuid4()),
            deployment=deployment,
            inputs=inputs,
            webhook=webhook,
            intermediate=intermediate,
            gpu=deployment.gpu or gpu or deployment.machine.gpu,
            created_at=now,
            updated_at=now,
            plan=plan_for(inputs),
        )
        self._runs[run.id] = run
        return run

    def get(self, run_id: str) -> SimRun | None:
        return self._runs.get(run_id)

    def all(self) -> list[SimRun]:
        return list(self._runs.values())

    def queue_position(self, run: SimRun) -> int | None:
        """How many waiting runs were queued before this one; None once it has started."""
        if run.status not in WAITING:
            return None
        ahead = 0
        for other in self._runs.values():
            if other is run:
                return ahead
            ahead += other.status in WAITING
        return ahead
