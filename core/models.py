"""Typed, immutable records the engine passes around. Adapters translate to and from these."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RunStatus(StrEnum):
    """ComfyDeploy's run statuses, plus our own `pending` (recorded, not yet submitted)."""

    PENDING = "pending"
    NOT_STARTED = "not-started"
    QUEUED = "queued"
    STARTED = "started"
    RUNNING = "running"
    UPLOADING = "uploading"
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"

    @property
    def rank(self) -> int:
        """Position in the life of a run; every terminal status shares the highest rank."""
        return _RANKS[self]

    @property
    def terminal(self) -> bool:
        return self.rank == TERMINAL_RANK


TERMINAL_RANK = 9
_RANKS: dict[RunStatus, int] = {
    RunStatus.PENDING: 0,
    RunStatus.NOT_STARTED: 1,
    RunStatus.QUEUED: 2,
    RunStatus.STARTED: 3,
    RunStatus.RUNNING: 4,
    RunStatus.UPLOADING: 5,
    RunStatus.SUCCESS: TERMINAL_RANK,
    RunStatus.FAILED: TERMINAL_RANK,
    RunStatus.TIMEOUT: TERMINAL_RANK,
    RunStatus.CANCELLED: TERMINAL_RANK,
}
TERMINAL_STAGE = TERMINAL_RANK * 1_000_000


def run_stage(status: RunStatus, progress: float | None, queue_position: int | None) -> int:
    """How far a run has got, as one number that only grows: status, then progress, then
    (while waiting) a smaller queue position. Stores compare it with a single range condition;
    every terminal status has the same stage, so the first terminal event is final."""
    if status.terminal:
        return TERMINAL_STAGE
    permille = round(max(0.0, min(1.0, progress or 0.0)) * 1000)
    waiting = 999 - min(queue_position, 999) if queue_position is not None else 0
    return status.rank * 1_000_000 + permille * 1000 + waiting


class InputType(StrEnum):
    """The neutral input schema of reference/backends.md."""

    TEXT = "text"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    IMAGE = "image"
    CHOICE = "choice"


class InputSpec(Frozen):
    name: str
    label: str = ""
    type: InputType
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[str, ...] | None = None
    multiline: bool = False
    description: str = ""
    max_length: int | None = None
    """For text inputs: the longest value accepted (prompt length limit)."""


class Workflow(Frozen):
    """A workflow a user can run: discovered from a backend and/or declared in the catalog."""

    name: str
    command: str
    title: str = ""
    """Display name; the name when empty."""
    description: str = ""
    deployment_ids: tuple[str, ...] = ()
    inputs: tuple[InputSpec, ...] = ()
    hidden: bool = False
    gpu: str | None = None
    source: str = "comfydeploy"

    @property
    def text_only(self) -> bool:
        """No required media input, and at least one text input to take the prompt."""
        has_text = any(i.type is InputType.TEXT for i in self.inputs)
        needs_media = any(i.type is InputType.IMAGE and i.required for i in self.inputs)
        return has_text and not needs_media

    @property
    def main_text_input(self) -> InputSpec | None:
        """Where free text goes: the first required text input, else the first text input."""
        texts = [i for i in self.inputs if i.type is InputType.TEXT]
        required = [i for i in texts if i.required]
        if required:
            return required[0]
        return texts[0] if texts else None

    @property
    def image_inputs(self) -> tuple[InputSpec, ...]:
        return tuple(i for i in self.inputs if i.type is InputType.IMAGE)

    def input(self, name: str) -> InputSpec | None:
        return next((i for i in self.inputs if i.name == name), None)


class Deployment(Frozen):
    """A backend deployment as discovered: what routing and costing need to know."""

    id: str
    workflow_name: str
    gpu: str | None = None
    machine_id: str | None = None


class ChatRef(Frozen):
    """Where a command came from, so progress and results go back to that exact place."""

    platform: str
    chat_id: str
    user_id: str
    thread_id: str | None = None
    message_id: str | None = None
    user_name: str = ""

    @property
    def user_key(self) -> str:
        """`platform:user_id`, the form ADMIN_IDS and bans use."""
        return f"{self.platform}:{self.user_id}"


class OutputKind(StrEnum):
    IMAGE = "image"
    GIF = "gif"
    VIDEO = "video"
    AUDIO = "audio"
    FILE = "file"
    TEXT = "text"


class Output(Frozen):
    kind: OutputKind
    url: str | None = None
    filename: str | None = None
    text: str | None = None
    output_id: str | None = None

    @property
    def key(self) -> str:
        """Identity used to merge outputs reported more than once."""
        return self.url or self.text or self.filename or ""


class EventSource(StrEnum):
    WEBHOOK = "webhook"
    POLL = "poll"
    SUBMIT = "submit"
    CANCEL = "cancel"
    TIMEOUT = "timeout"


class RunEvent(Frozen):
    """A status report about a backend run, from a webhook or a poll, already parsed."""

    backend_run_id: str
    status: RunStatus
    source: EventSource
    progress: float | None = None
    live_status: str | None = None
    outputs: tuple[Output, ...] = ()
    queue_position: int | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    gpu: str | None = None
    error: str | None = None


class DeliveryState(StrEnum):
    NONE = "none"
    """Not finished yet: nothing to deliver."""
    PENDING = "pending"
    CLAIMED = "claimed"
    DELIVERED = "delivered"
    ABANDONED = "abandoned"


class Run(Frozen):
    """A run as stored. State lives in the database; this is a snapshot of one document."""

    id: str
    workflow: str
    deployment_id: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    chat: ChatRef
    status: RunStatus = RunStatus.PENDING
    progress: float = 0.0
    live_status: str | None = None
    queue_position: int | None = None
    backend_run_id: str | None = None
    gpu: str | None = None
    rate_usd_per_s: float | None = None
    cost_usd: float | None = None
    outputs: tuple[Output, ...] = ()
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    last_event_at: datetime | None = None
    next_poll_at: datetime | None = None
    poll_failures: int = 0
    delivery: DeliveryState = DeliveryState.NONE
    delivery_attempts: int = 0
    delivery_due_at: datetime | None = None
    delivered_at: datetime | None = None
    progress_message_id: str | None = None
    rerun_of: str | None = None

    @property
    def duration_s(self) -> float | None:
        """Billed time, queued (or submitted) to end: ComfyDeploy bills GPU-container seconds."""
        start = self.queued_at or self.started_at or self.submitted_at
        if start is None or self.ended_at is None:
            return None
        return max(0.0, (self.ended_at - start).total_seconds())


class Submission(Frozen):
    """What the backend accepted: recorded on the run when it leaves `pending`."""

    backend_run_id: str
    deployment_id: str
    gpu: str | None
    rate_usd_per_s: float | None
    submitted_at: datetime
    next_poll_at: datetime


class ResultFile(Frozen):
    """An output fetched and saved locally, ready for a platform to post."""

    kind: OutputKind
    filename: str
    mime: str
    size: int
    path: str | None = None
    url: str | None = None
    """The backend's URL: what a platform links to when the file is too large to upload."""


class RunResult(Frozen):
    """What a user is shown when a run ends."""

    run: Run
    files: tuple[ResultFile, ...] = ()
    texts: tuple[str, ...] = ()


class ProgressView(Frozen):
    """A coalesced progress report for the status message of a run."""

    run: Run
    status: RunStatus
    progress: float
    live_status: str | None = None
    queue_position: int | None = None


class UploadedFile(Frozen):
    """A user's media, checked and ready to send to a backend."""

    filename: str
    mime: str
    data: bytes


class RunRequest(Frozen):
    """A chat command turned into a request to run a workflow."""

    workflow: str
    raw_inputs: dict[str, str] = Field(default_factory=dict)
    duplicates: tuple[str, ...] = ()
    text: str = ""
    chat: ChatRef
    images: tuple[UploadedFile, ...] = ()
