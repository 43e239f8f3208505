"""Runs and what happens to them: statuses, events, outputs, results. Typed and immutable;
adapters translate to and from these."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import Field

from core.actions import Action
from core.workflow import Frozen


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


class ChatRef(Frozen):
    """Where a command came from, so progress and results go back to that exact place."""

    platform: str
    chat_id: str
    user_id: str
    thread_id: str | None = None
    message_id: str | None = None
    user_name: str = ""
    username: str | None = None
    """The user's handle on the platform (`@name` without the `@`), when they have one."""
    language: str | None = None
    """The user's language as the platform reports it (an IETF tag such as `ru` or `pt-br`)."""
    group: bool = False
    """A chat with several people (a group, a channel, a server), not a private one."""

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
    STREAM = "stream"
    """An event stream a backend keeps open for a run (Comfy API v2 server-sent events)."""
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
    """The backend's own words about the run, or a `live.*` message key the platforms
    translate (a cold start, …)."""
    outputs: tuple[Output, ...] = ()
    queue_position: int | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    gpu: str | None = None
    error: str | None = None
    """The backend's own words, or a `run.*` message key the platforms translate."""


class DeliveryState(StrEnum):
    NONE = "none"
    """Not finished yet: nothing to deliver."""
    PENDING = "pending"
    CLAIMED = "claimed"
    DELIVERED = "delivered"
    ABANDONED = "abandoned"


class PartState(StrEnum):
    """One message of a result: about to be sent (and maybe sent), or confirmed sent."""

    SENDING = "sending"
    SENT = "sent"


class RunCredits(Frozen):
    """What a run may cost its user, fixed when it is admitted (see core/credits.py)."""

    held: int
    """Hundredths of a credit reserved from the user's balance until the run ends."""
    quoted: int
    """The price announced: expected GPU seconds x rate, in hundredths of a credit."""
    cents_per_usd: float
    """Hundredths of a credit per USD of GPU cost (PRICE_MULTIPLIER / CREDIT_USD x 100)."""
    charge_failed: bool = False
    """Whether a failed, cancelled or timed-out run is charged for its GPU time."""


class Run(Frozen):
    """A run as stored. State lives in the database; this is a snapshot of one document."""

    id: str
    workflow: str
    backend: str = "comfydeploy"
    """The backend it runs on; with `deployment_id` and `backend_run_id` it addresses the run
    there. Runs stored before several backends existed ran on ComfyDeploy."""
    deployment_id: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    chat: ChatRef
    status: RunStatus = RunStatus.PENDING
    progress: float = 0.0
    live_status: str | None = None
    """As `RunEvent.live_status`: the backend's words or a `live.*` message key."""
    queue_position: int | None = None
    backend_run_id: str | None = None
    gpu: str | None = None
    rate_usd_per_s: float | None = None
    cost_usd: float | None = None
    outputs: tuple[Output, ...] = ()
    error: str | None = None
    """As `RunEvent.error`: the backend's words, ours, or a `run.*` message key."""
    created_at: datetime
    updated_at: datetime
    submit_started_at: datetime | None = None
    """When a process began submitting it (it stays `pending` until the backend's answer)."""
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
    delivery_parts: dict[str, PartState] = Field(default_factory=dict)
    """The messages of the result posted so far (see core/journal.py)."""
    progress_message_id: str | None = None
    rerun_of: str | None = None
    origin: str | None = None
    """What asked for it (a platform's message or button press, an API idempotency key): a
    request that arrives twice makes one run."""
    credits: RunCredits | None = None
    """None when credits are off (its cost in USD is still recorded)."""

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
    backend: str
    deployment_id: str
    gpu: str | None
    rate_usd_per_s: float | None
    submitted_at: datetime
    next_poll_at: datetime


class SubmitAttempt(Frozen):
    """Where a pending run is being sent now (before the backend has answered)."""

    backend: str
    deployment_id: str
    gpu: str | None
    rate_usd_per_s: float | None
    inputs: dict[str, Any]
    """The run's inputs as this backend takes them (its media uploaded there)."""


class BackendTotals(Frozen):
    """Runs recorded on one backend, and what they cost."""

    runs: int = 0
    cost_usd: float = 0.0


class UsageTotals(Frozen):
    """What a group of runs used: how many, how many succeeded of those that ended, their
    billed GPU seconds (`Run.duration_s`) and recorded cost."""

    runs: int = 0
    successes: int = 0
    finished: int = 0
    gpu_seconds: float = 0.0
    spend_usd: float = 0.0

    @property
    def success_percent(self) -> int | None:
        """Successes among the runs that ended, in whole percent rounded down (99 until every
        one succeeded); None while none has ended."""
        return self.successes * 100 // self.finished if self.finished else None


class UsageRow(UsageTotals):
    key: str
    """The workflow, or the user as `platform:id`."""
    name: str = ""
    """The user's display name, as their latest run that has one stored it."""


class UsageTable(Frozen):
    """The groups that spent most, most first, and what all the others add up to."""

    rows: tuple[UsageRow, ...] = ()
    others: UsageTotals | None = None
    others_count: int = 0
    """How many groups `others` folds together."""


class DayUsage(UsageTotals):
    day: date
    """The UTC day the runs were asked for (`Run.created_at`)."""


class UsageBreakdown(Frozen):
    """The runs asked for since `since`, by workflow, by user and by UTC day."""

    since: datetime
    workflows: UsageTable = UsageTable()
    users: UsageTable = UsageTable()
    days: tuple[DayUsage, ...] = ()
    """Oldest first; only days with runs, until `every_day` fills the gaps."""

    @property
    def runs(self) -> int:
        return sum(day.runs for day in self.days)

    def every_day(self, today: date) -> UsageBreakdown:
        """Each day from `since` to `today`, those without runs as zeros."""
        known = {day.day: day for day in self.days}
        first = self.since.date()
        span = [first + timedelta(days=n) for n in range((today - first).days + 1)]
        days = tuple(known.get(day, DayUsage(day=day)) for day in span)
        return self.model_copy(update={"days": days})


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
    """What a user is shown when a run ends, with what they can do next."""

    run: Run
    files: tuple[ResultFile, ...] = ()
    texts: tuple[str, ...] = ()
    actions: tuple[Action, ...] = ()
    balance: int | None = None
    """The user's credits left after it (hundredths), when the run was paid in credits."""
    link: str | None = None
    """Where the result was posted (a message link), for a status message to point at."""


class ProgressView(Frozen):
    """A coalesced progress report for the status message of a run."""

    run: Run
    status: RunStatus
    progress: float
    live_status: str | None = None
    queue_position: int | None = None
    line_position: int | None = None
    """1-based place in our own fair queue, while the run waits for a slot."""
    starts_in_s: float | None = None
    """The estimated wait until it is sent to a backend."""


class UploadedFile(Frozen):
    """A user's media, checked and ready to send to a backend."""

    filename: str
    mime: str
    data: bytes
