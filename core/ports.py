"""The small interfaces the engine depends on; adapters implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from core.inbound import UpdateClaim, UpdateEntry
from core.journal import Claim, DeliveryJournal
from core.lease import LeaseGrant
from core.ledger import Balance, LedgerEntry, LedgerKind, Refusal
from core.models import (
    BackendTotals,
    PartState,
    ProgressView,
    Run,
    RunEvent,
    RunResult,
    RunStatus,
    Submission,
    SubmitAttempt,
    UploadedFile,
    UsageBreakdown,
)
from core.rate_limit import Pace
from core.workflow import Deployment, Discovery, InputSpec


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait that long on this clock (long-running loops wait here, so tests drive them)."""
        ...


@dataclass(frozen=True)
class RunAddress:
    """Where a run lives on its backend: some backends need the deployment to find a run."""

    deployment_id: str
    backend_run_id: str


@dataclass(frozen=True)
class Job:
    """What a backend needs to start a run."""

    run_id: str
    """Ours: usable as an idempotency key, so an unclear submit can be retried safely."""
    deployment_id: str
    inputs: Mapping[str, Any]
    """Typed values by input name; media already uploaded (`WorkflowBackend.upload`)."""
    specs: tuple[InputSpec, ...]
    """The workflow's inputs, with the graph bindings of backends that patch graphs."""
    webhook_url: str | None


class WorkflowBackend(Protocol):
    """A ComfyUI execution service (ComfyDeploy, Comfy API v2, RunComfy, the simulator)."""

    @property
    def name(self) -> str:
        """The name runs, deployments and routing refer to it by."""
        ...

    @property
    def webhook_path(self) -> str | None:
        """Where its status webhooks arrive on our HTTP server; None if it sends none."""
        ...

    async def discover(self) -> Discovery:
        """Every runnable workflow and the deployments behind them."""
        ...

    async def refresh_prices(self) -> None:
        """Fetch the backend's current price list, if it publishes one."""
        ...

    def usd_per_second(self, deployment: Deployment | None) -> float | None:
        """What a second of a run on `deployment` costs; None when unknown."""
        ...

    async def submit(self, job: Job) -> str:
        """Queue a run; returns the backend's run id."""
        ...

    async def locate(self, run_id: str, deployment_id: str) -> str | None:
        """The backend's run id of our run `run_id`, when a submit's answer was lost; None when
        the backend has no such run (or cannot tell)."""
        ...

    async def get_run(self, address: RunAddress) -> RunEvent:
        """The run's current state, as a poll event."""
        ...

    async def cancel(self, address: RunAddress) -> None: ...

    async def upload(self, file: UploadedFile) -> str:
        """Store a user's file; returns the value to pass as the input."""
        ...

    @property
    def output_hosts(self) -> tuple[str, ...]:
        """Where its outputs may be fetched from: host names, `*.domain` patterns (https only),
        or whole origins such as `http://127.0.0.1:8787` (see core/output_hosts.py)."""
        ...

    async def download(self, url: str, target: Path, max_bytes: int) -> int:
        """Stream an output to `target`; returns its size. Raises FileTooLarge past
        `max_bytes`, BackendError when it cannot be fetched."""
        ...

    async def ping(self) -> bool:
        """True when the backend answers at all (for health checks)."""
        ...

    async def close(self) -> None: ...


class RunStore(Protocol):
    """Runs in the database. Every state change is a conditional update: the database decides."""

    async def insert(self, run: Run) -> bool:
        """False when a run of the same `origin` exists already (nothing is inserted)."""
        ...

    async def by_origin(self, origin: str) -> Run | None: ...

    async def get(self, run_id: str) -> Run | None: ...

    async def begin_submit(
        self, run_id: str, owner: str, attempt: SubmitAttempt, now: datetime
    ) -> bool:
        """Take (or keep) the right to submit a pending run to `attempt`'s deployment; False
        when it is no longer pending or another process is submitting it."""
        ...

    async def pending(self, limit: int) -> list[Run]:
        """Runs recorded but not (yet known to be) on a backend, oldest first."""
        ...

    async def waiting(self, limit: int) -> list[Run]:
        """Pending runs nobody has begun to submit (waiting in the fair queue), oldest first."""
        ...

    async def by_ids(self, run_ids: Collection[str]) -> list[Run]: ...

    async def recent_durations(self, workflow: str, limit: int) -> list[float]:
        """Billed seconds (see `Run.duration_s`) of the workflow's latest successful runs."""
        ...

    async def mark_submitted(self, run_id: str, submission: Submission) -> bool:
        """Record the backend's run id, moving `pending` to `not-started`. False if not pending."""
        ...

    async def apply_event(
        self,
        run_id: str,
        event: RunEvent,
        now: datetime,
        next_poll_at: datetime | None,
        claim: Claim | None = None,
    ) -> bool:
        """Apply a status event if it moves the run forward (see `run_stage`) and is about the
        run's backend run. Non-terminal changes set `next_poll_at`. A terminal change clears it,
        records the final cost (rate x billed seconds, see `Run.duration_s`, in the same update,
        so every ended run is costed once, delivered or not) and makes delivery pending, or,
        with `claim`, claimed by the caller: only one caller can win the terminal change, so it
        may deliver without a second claim.
        Returns whether the stored run changed; duplicate and late events change nothing."""
        ...

    async def note_poll(self, run_id: str, next_poll_at: datetime, failed: bool) -> None:
        """Schedule the next poll of a run (and count a failed poll when `failed`)."""
        ...

    async def due_for_poll(self, now: datetime, limit: int) -> list[Run]:
        """Submitted, unfinished runs whose `next_poll_at` has passed."""
        ...

    async def unfinished(self, limit: int) -> list[Run]: ...

    async def is_finished(self, run_id: str) -> bool:
        """Whether the run has ended (a cheap read for a progress sender racing the end)."""
        ...

    async def claim_delivery(self, run_id: str, now: datetime, claim: Claim) -> bool:
        """Take the right to deliver a finished run's result: succeeds for exactly one caller
        while delivery is pending and due, or claimed with a lease that ran out."""
        ...

    async def renew_claim(self, run_id: str, claim: Claim) -> bool:
        """Extend the lease to `claim.until`; False when the claim is no longer `claim.owner`'s."""
        ...

    async def set_part(self, run_id: str, owner: str, part: str, state: PartState | None) -> bool:
        """Record one message of the result (None forgets it), only while `owner` holds the
        claim."""
        ...

    async def finish_delivery(self, run_id: str, owner: str, now: datetime) -> bool:
        """Mark a delivery done, only by the owner of its claim."""
        ...

    async def retry_delivery(
        self, run_id: str, owner: str, due_at: datetime | None, *, count: bool = True
    ) -> bool:
        """Give a claimed delivery back, to be tried again at `due_at` (None: given up), only by
        its owner. `count`: whether this was a real attempt (not "platform not served here")."""
        ...

    async def deliveries_due(
        self, now: datetime, limit: int, platforms: Collection[str]
    ) -> list[Run]:
        """Finished runs of those platforms whose delivery is pending and due, or claimed with
        an expired lease."""
        ...

    async def redeliver(self, run_id: str, now: datetime, fresh: bool) -> bool:
        """Make a finished run's delivery due again (an admin's request). `fresh` forgets which
        messages were sent, so all of them go again. False when it is being delivered now."""
        ...

    async def set_progress_message(self, run_id: str, message_id: str) -> None: ...

    async def recent(
        self, limit: int, user_key: str | None = None, status: RunStatus | None = None
    ) -> list[Run]: ...

    async def count_by_status(self) -> dict[RunStatus, int]: ...

    async def total_cost(self) -> float: ...

    async def totals_by_backend(self) -> dict[str, BackendTotals]:
        """Runs and their recorded cost, per backend they ran (or were to run) on."""
        ...

    async def usage_breakdown(self, since: datetime, top: int) -> UsageBreakdown:
        """The runs created since `since`, summed by workflow, by user (`platform:id`) and by
        UTC day: runs, successes, ended runs, billed GPU seconds (`Run.duration_s`) and cost.
        Workflows and users come by spend, most first (then by runs, then by name): the first
        `top` of each, the rest folded into `others`."""
        ...


class AccountStore(Protocol):
    """Users' credits, what is held for their runs, and their run slots. Every change is one
    conditional update of the user's account, which also records the change for the ledger;
    each is done once per cause, and no balance goes below zero."""

    async def open(self, user: str, welcome: int, now: datetime) -> None:
        """Create the account the first time, with `welcome` credits (once, however often
        called, by however many processes)."""
        ...

    async def admit(
        self, user: str, run_id: str, hold: int, max_active: int, now: datetime
    ) -> Refusal | None:
        """Hold `hold` for the run and count it active, if the balance covers the hold and the
        user has fewer than `max_active` runs active; otherwise why not (nothing changes)."""
        ...

    async def release(self, user: str, run_id: str, now: datetime) -> bool:
        """Undo an admission whose run was never recorded: the hold given back in full."""
        ...

    async def take_slot(self, user: str, run_id: str, max_running: int, now: datetime) -> bool:
        """One of the user's running slots for an admitted run, if fewer than `max_running`
        are taken."""
        ...

    async def give_slot(
        self, user: str, run_id: str, taken_before: datetime | None = None
    ) -> None:
        """Free the run's running slot (only if taken before `taken_before`, when given)."""
        ...

    async def finish(self, user: str, run_id: str, held: int, charge: int, now: datetime) -> bool:
        """The run ended: `charge` taken from its hold, the rest given back, its slots freed.
        True for the one call that did it."""
        ...

    async def credit(
        self,
        user: str,
        key: str,
        kind: LedgerKind,
        amount: int,
        now: datetime,
        *,
        payment_id: str | None = None,
        by: str | None = None,
    ) -> bool:
        """Add `amount` for one cause (a grant, a purchase); False when `key` was applied
        before."""
        ...

    async def take_back(
        self, user: str, key: str, kind: LedgerKind, amount: int, now: datetime, payment_id: str
    ) -> tuple[int, int] | None:
        """Take up to `amount` away, down to zero at most: (taken, shortfall); None when `key`
        was applied before."""
        ...

    async def balance(self, user: str) -> Balance: ...

    async def statement(self, user: str, limit: int) -> list[LedgerEntry]:
        """The user's latest ledger entries, newest first."""
        ...

    async def running_counts(self, users: Collection[str]) -> dict[str, int]:
        """Running slots taken, per user (users with none may be left out)."""
        ...

    async def running_total(self) -> int:
        """Running slots taken by all users together."""
        ...

    async def admitted_before(self, before: datetime, limit: int) -> list[tuple[str, str]]:
        """(user, run id) of runs admitted before `before` and not finished: what a crash
        may have left (`FairQueue.repair`)."""
        ...

    async def slots_before(self, before: datetime, limit: int) -> list[tuple[str, str]]:
        """(user, run id) of user slots taken before `before` and not given back: a crash
        between taking one and the submit may have left it (`FairQueue.repair`)."""
        ...

    async def flush_ledger(self, limit: int) -> int:
        """Copy recorded changes into the ledger collection; how many were copied."""
        ...


class DeploymentSlots(Protocol):
    """Runs the bot has sent to each deployment and that have not ended
    (MAX_RUNNING_PER_DEPLOYMENT)."""

    async def take(self, deployment: str, run_id: str, cap: int, now: datetime) -> bool: ...

    async def give(self, run_id: str) -> None:
        """Free whatever slot `run_id` holds."""
        ...

    async def held_before(self, before: datetime, limit: int) -> list[str]:
        """Run ids holding a slot since before `before`."""
        ...


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window: str, expires: datetime) -> Pace:
        """Count one command of `key` in the time window named `window` (forgotten after
        `expires`): within `limit`, the first one past it, or later ones."""
        ...


class CatalogStore(Protocol):
    """What each backend offered last, so the bot starts and serves while a backend is down."""

    async def load_snapshots(self) -> dict[str, Discovery]:
        """Backend name -> its last discovery."""
        ...

    async def save_snapshot(self, backend: str, discovery: Discovery) -> None: ...


class KeyValueStore(Protocol):
    """Small persistent settings: generated secrets, last registered command lists."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...

    async def set_if_absent(self, key: str, value: str) -> str:
        """Store `value` unless the key exists; returns the stored value either way."""
        ...


class LeaseStore(Protocol):
    """Named leases (core/lease.py): one owner at a time, until the lease runs out."""

    async def acquire(
        self, name: str, owner: str, now: datetime, until: datetime
    ) -> LeaseGrant | None:
        """Take the lease if nobody holds it (never taken, released, or run out by `now`), in a
        new term; None when another holds it."""
        ...

    async def renew(self, grant: LeaseGrant, until: datetime) -> LeaseGrant | None:
        """Extend `grant` to `until` if its term is still the current one (nobody took the
        lease since, even if it ran out); None when the lease changed hands."""
        ...

    async def release(self, grant: LeaseGrant) -> bool:
        """Give the lease up at once, if still in `grant`'s term; False when it was not."""
        ...

    async def current(self, name: str, now: datetime) -> LeaseGrant | None:
        """Who holds the lease at `now`; None when nobody does."""
        ...


class UpdateLog(Protocol):
    """Updates from a chat platform by id (core/intake.py): who is handling each, which are
    done; every change conditional on the claim's owner."""

    async def claim(
        self, entry: UpdateEntry, owner: str, now: datetime, until: datetime
    ) -> UpdateClaim:
        """Record `entry` as `owner`'s to handle until `until`, unless it is done (DONE) or
        another owner's claim on it still runs (BUSY, with that claim's end); a claim that ran
        out is taken over (NEW)."""
        ...

    async def renew(self, key: str, owner: str, until: datetime) -> bool:
        """Extend `owner`'s claim; False when it is no longer theirs."""
        ...

    async def finish(self, key: str, owner: str, now: datetime) -> bool:
        """Mark the update handled (kept as such long enough for every repeat to be seen)."""
        ...

    async def release(self, key: str, owner: str) -> None:
        """Give up a claim unhandled, so the update's next delivery is taken at once."""
        ...

    async def blocker(self, chat: str, seq: int, owner: str, now: datetime) -> datetime | None:
        """The end of the latest running claim of another owner on an earlier update (lower
        `seq`) of `chat`; None when no earlier update of the chat is being handled elsewhere."""
        ...

    async def abandoned(self, now: datetime, limit: int) -> list[UpdateEntry]:
        """Updates whose claim ran out (or was given up) before they were handled."""
        ...


class RunFinder(Protocol):
    """Runs by the first characters of their id, as people type them."""

    async def find_by_prefix(self, prefix: str, user_key: str | None, limit: int) -> list[Run]:
        """Runs whose id starts with `prefix` (only `user_key`'s when given), at most `limit`,
        newest first."""
        ...

    async def page(
        self, user_key: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[Run]:
        """One user's runs, newest first (then by id, descending), at most `limit`, starting
        after the run with that (creation time, id) when `after` is given: pages that hold
        still while new runs are added."""
        ...


class UserStore(Protocol):
    """The users the bot has seen (platform, id, username) and the ones it has banned."""

    async def remember(
        self, user_key: str, username: str | None, name: str, now: datetime
    ) -> None:
        """Record that `user_key` was seen, under its current username and display name."""
        ...

    async def find_user(self, platform: str, name: str) -> str | None:
        """The `platform:id` of a user seen there with this username (any case, without `@`)
        or this id; None when there is none."""
        ...

    async def is_banned(self, user_key: str) -> bool: ...

    async def ban(self, user_key: str, by: str, now: datetime) -> bool:
        """True when the user was not banned before."""
        ...

    async def unban(self, user_key: str) -> bool:
        """True when the user was banned before."""
        ...


class ChatNotifier(Protocol):
    """One chat platform's way of showing a run to the chat it came from.

    A result is delivered in two steps, so a delivery's slot is given back as soon as the
    result is out: `post_result` posts it, then `end_status` puts the status message in its
    final state (on Telegram that edit waits a second for the chat's pace). The delivery's claim
    is held until both are done, so a crash between them leaves the delivery owed, and whoever
    takes it next finds every message of the result journaled as sent and ends the status
    message alone."""

    platform: str

    async def show_progress(self, view: ProgressView) -> str | None:
        """Create or edit the run's status message; returns its message id when created."""
        ...

    async def post_result(self, result: RunResult, journal: DeliveryJournal) -> RunResult | None:
        """Post the outcome (files, or the reason it failed) with its actions, each message
        through `core.journal.send_once`. Returns what the status message should end as (its
        `actions` the buttons it keeps, `link` where the result was posted), or None when
        there is nothing left to edit (no status message, or it became the result itself).
        Raises SendFailed when a message could not be sent, ClaimLost when the delivery was
        taken over."""
        ...

    async def end_status(self, ending: RunResult) -> None:
        """The run's status message in its final state: `ending.run`'s summary with
        `ending.actions` as its buttons (and no Cancel). Also called when a progress edit from
        another process may have raced the end. Raises SendFailed when the edit failed and may
        succeed later; a message that can no longer be edited is left as it is."""
        ...


class RunFollower(Protocol):
    """Hears of every stored change to a run: shows progress, delivers results."""

    async def run_changed(
        self, run: Run, claim: Claim | None = None, settled: Awaitable[None] | None = None
    ) -> None:
        """`claim`: the caller holds the delivery claim of this finished run; `settled`: done
        once its end is settled (credits), which what is shown of it waits for."""
        ...

    async def deliver_due(self) -> int: ...
