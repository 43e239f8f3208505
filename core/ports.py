"""The small interfaces the engine depends on; adapters implement them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from core.models import (
    Deployment,
    ProgressView,
    Run,
    RunEvent,
    RunResult,
    RunStatus,
    Submission,
    Workflow,
)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class WorkflowBackend(Protocol):
    """A ComfyUI execution service (ComfyDeploy, the simulator, later others)."""

    async def list_workflows(self) -> tuple[list[Workflow], list[Deployment]]:
        """Discover every runnable workflow and the deployments behind them."""
        ...

    async def gpu_prices(self) -> dict[str, float]:
        """USD per GPU-second by GPU name."""
        ...

    async def submit(
        self, deployment_id: str, inputs: Mapping[str, Any], webhook_url: str | None
    ) -> str:
        """Queue a run; returns the backend's run id."""
        ...

    async def get_run(self, backend_run_id: str) -> RunEvent:
        """The run's current state, as a poll event."""
        ...

    async def cancel(self, backend_run_id: str) -> None: ...

    async def upload(self, filename: str, mime: str, data: bytes) -> str:
        """Store a user's file; returns the URL to pass as an input value."""
        ...

    async def fetch(self, url: str, max_bytes: int) -> bytes:
        """Download an output; raises FileTooLarge past max_bytes."""
        ...

    async def ping(self) -> bool:
        """True when the backend answers at all (for health checks)."""
        ...


class RunStore(Protocol):
    """Runs in the database. Every state change is a conditional update: the database decides."""

    async def insert(self, run: Run) -> None: ...

    async def get(self, run_id: str) -> Run | None: ...

    async def mark_submitted(self, run_id: str, submission: Submission) -> bool:
        """Record the backend's run id, moving `pending` to `not-started`. False if not pending."""
        ...

    async def apply_event(
        self,
        run_id: str,
        event: RunEvent,
        now: datetime,
        next_poll_at: datetime | None,
        claim_until: datetime | None = None,
    ) -> bool:
        """Apply a status event if it moves the run forward (see `run_stage`) and is about the
        run's backend run. Non-terminal changes set `next_poll_at`. A terminal change clears it
        and makes delivery pending, or, with `claim_until`, claimed by the caller until then:
        only one caller can win the terminal change, so it may deliver without a second claim.
        Returns whether the stored run changed; duplicate and late events change nothing."""
        ...

    async def note_poll(self, run_id: str, next_poll_at: datetime, failed: bool) -> None:
        """Schedule the next poll of a run (and count a failed poll when `failed`)."""
        ...

    async def due_for_poll(self, now: datetime, limit: int) -> list[Run]:
        """Submitted, unfinished runs whose `next_poll_at` has passed."""
        ...

    async def unfinished(self, limit: int) -> list[Run]: ...

    async def claim_delivery(self, run_id: str, now: datetime, lease_until: datetime) -> bool:
        """Atomically take the right to deliver a finished run's result: succeeds for exactly one
        caller while delivery is pending and due, or claimed with an expired lease."""
        ...

    async def finish_delivery(self, run_id: str, now: datetime, cost_usd: float | None) -> None:
        """Mark a claimed delivery done, storing the run's final cost with it."""
        ...

    async def retry_delivery(
        self, run_id: str, due_at: datetime | None, abandon: bool = False
    ) -> None:
        """Give a claimed delivery back, to be tried again at `due_at` (or given up)."""
        ...

    async def deliveries_due(self, now: datetime, limit: int) -> list[Run]:
        """Finished runs whose delivery is pending and due, or claimed with an expired lease."""
        ...

    async def set_progress_message(self, run_id: str, message_id: str) -> None: ...

    async def recent(
        self, limit: int, user_key: str | None = None, status: RunStatus | None = None
    ) -> list[Run]: ...

    async def count_by_status(self) -> dict[RunStatus, int]: ...

    async def total_cost(self) -> float: ...


class CatalogStore(Protocol):
    """The last catalog discovered, so the bot starts and serves while the backend is down."""

    async def load_snapshot(self) -> tuple[list[Workflow], list[Deployment]] | None: ...

    async def save_snapshot(
        self, workflows: Sequence[Workflow], deployments: Sequence[Deployment]
    ) -> None: ...


class KeyValueStore(Protocol):
    """Small persistent settings: generated secrets, last registered command lists."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...

    async def set_if_absent(self, key: str, value: str) -> str:
        """Store `value` unless the key exists; returns the stored value either way."""
        ...


class UserStore(Protocol):
    async def is_banned(self, user_key: str) -> bool: ...

    async def ban(self, user_key: str, by: str, now: datetime) -> bool:
        """True when the user was not banned before."""
        ...

    async def unban(self, user_key: str) -> bool:
        """True when the user was banned before."""
        ...


class ChatNotifier(Protocol):
    """One chat platform's way of showing a run to the chat it came from."""

    platform: str

    async def show_progress(self, view: ProgressView) -> str | None:
        """Create or edit the run's status message; returns its message id when created."""
        ...

    async def deliver_result(self, result: RunResult) -> None:
        """Post the outcome (files, or the reason it failed). Raises on failure to send."""
        ...


class RunFollower(Protocol):
    """Hears of every stored change to a run: shows progress, delivers results."""

    async def run_changed(self, run: Run, claimed: bool = False) -> None:
        """`claimed`: the caller holds the delivery claim of this finished run."""
        ...

    async def deliver_due(self) -> int: ...
