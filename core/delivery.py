"""Results to the chat a run came from, exactly once per message, and live progress before that.

The right to deliver is a claim with an owner token and a lease, renewed while sending; only its
owner can finish it, give it back or record what it sent (core/journal.py), so a delivery that
outlives its lease, a second process or a crash never posts a message twice: the next holder
resumes after the last message confirmed sent. Failed sends are retried with a backoff within a
time budget; a platform that is down is kept apart from a chat that is gone.

A delivery holds one of `max_concurrent` slots while it posts the result (its files are in memory
then), and gives it back before the status message is put in its final state: that edit waits
for the chat's pace (a second after the photo on Telegram), and held in the slot it made slots,
not the platform, the limit. The claim is held until the edit is done, so the status message
still owed its final state is recorded as the delivery still owed: after a crash, the next
holder finds the result's messages journaled as sent and makes the edit alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from core.actions import Action, ActionKind
from core.chat_turns import ChatTurns
from core.errors import SendFailed
from core.files import FileManager
from core.journal import Claim, ClaimLost, DeliveryJournal
from core.metrics import Metrics
from core.models import ResultFile, Run, RunResult, RunStatus
from core.policy import DEFAULT_LEASE
from core.ports import ChatNotifier, Clock, RunStore
from core.progress import ProgressBoard

log = logging.getLogger(__name__)

ActionsFor = Callable[[Run], tuple[Action, ...]]
BalanceOf = Callable[[Run], Awaitable[int | None]]
"""The credits its user has left, for a run paid in credits."""


async def no_balance(run: Run) -> int | None:
    return None


def rerun_only(run: Run) -> tuple[Action, ...]:
    return (Action(ActionKind.RERUN, run.id),)


@dataclass(frozen=True)
class DeliveryPolicy:
    lease: timedelta = DEFAULT_LEASE
    """How long a claim holds unless renewed; a crashed sender's delivery waits this long."""
    retry_budget: timedelta = timedelta(hours=24)
    """How long after a run's end its delivery is retried before it is given up."""
    backoff_base: timedelta = timedelta(seconds=2)
    backoff_max: timedelta = timedelta(minutes=10)
    progress_interval_s: float = 1.5
    max_concurrent: int = 32
    """Chats whose result is being posted at once, one delivery each; more wait (their claims
    renewed meanwhile). The final edit of a status message is made after the slot is given
    back."""

    @property
    def renew_every_s(self) -> float:
        return self.lease.total_seconds() / 3


class DeliveryService:
    def __init__(
        self,
        *,
        store: RunStore,
        files: FileManager,
        clock: Clock,
        metrics: Metrics,
        policy: DeliveryPolicy,
        notifiers: Iterable[ChatNotifier] = (),
        actions_for: ActionsFor = rerun_only,
        balance_of: BalanceOf = no_balance,
    ) -> None:
        self._store = store
        self._files = files
        self._clock = clock
        self._metrics = metrics
        self._policy = policy
        self._actions_for = actions_for
        self._balance_of = balance_of
        self._notifiers = {n.platform: n for n in notifiers}
        self._progress = ProgressBoard(
            store, self._notifiers, self._final_result, policy.progress_interval_s
        )
        self._slots = asyncio.Semaphore(policy.max_concurrent)
        self._turns = ChatTurns()
        self._active: dict[str, asyncio.Task[bool]] = {}
        self._queued: set[str] = set()
        """Claimed deliveries waiting for their chat's turn or a slot: a stop hands them on."""
        self._stopping = False

    def add_notifier(self, notifier: ChatNotifier) -> None:
        self._notifiers[notifier.platform] = notifier

    @property
    def platforms(self) -> frozenset[str]:
        return frozenset(self._notifiers)

    async def run_changed(
        self, run: Run, claim: Claim | None = None, settled: Awaitable[None] | None = None
    ) -> None:
        """Progress is queued for the chat; a result is delivered in the background, its files
        fetched while `settled` is pending, its caption written after."""
        if run.status.terminal:
            self._start(run.id, run, claim, settled)
        else:
            await self._progress.show(run)

    async def show_waiting(self, run: Run, place: int, starts_in_s: float | None) -> None:
        """The status message of a run waiting in the fair queue: its place, its wait."""
        await self._progress.show(run, place, starts_in_s)

    def _start(
        self,
        run_id: str,
        run: Run | None,
        claim: Claim | None,
        settled: Awaitable[None] | None = None,
    ) -> bool:
        if run_id in self._active or (self._stopping and claim is None):
            return False
        task = asyncio.create_task(self.deliver(run_id, run, claim, settled))
        self._active[run_id] = task
        task.add_done_callback(lambda _: self._active.pop(run_id, None))
        return True

    async def deliver(
        self,
        run_id: str,
        run: Run | None = None,
        claim: Claim | None = None,
        settled: Awaitable[None] | None = None,
    ) -> bool:
        """Claim (unless the caller holds `claim`) and post a finished run's result; its
        caption waits for `settled` (the balance it shows)."""
        if run is None:
            run = await self._store.get(run_id)
        if run is None or not run.status.terminal:
            return False
        notifier = self._notifiers.get(run.chat.platform)
        now = self._clock.now()
        if notifier is None or self._stopping:
            if claim is not None:  # not ours to show (now): hand it on at once, no attempt spent
                await self._store.retry_delivery(run_id, claim.owner, now, count=False)
            return False
        if claim is None:
            claim = Claim.new(now + self._policy.lease)
            if not await self._store.claim_delivery(run_id, now, claim):
                return False
            run = await self._store.get(run_id) or run  # what was sent before, by whoever
        journal = DeliveryJournal(self._store, run_id, claim.owner, run.delivery_parts)
        keeper = asyncio.create_task(self._keep(run_id, claim, journal))
        try:
            async with self._progress.holding(run) as shown:
                self._queued.add(run_id)
                async with self._turns.turn((run.chat.platform, run.chat.chat_id)), self._slots:
                    self._queued.discard(run_id)
                    ending = await self._post(notifier, shown, journal, settled)
                if ending is not None:  # the slot is free again; the claim is still held
                    await notifier.end_status(ending)
        except ClaimLost:
            log.warning("run %s: delivery taken over by another process; stopped", run_id)
            self._metrics.deliveries["lost_claim"] += 1
            return False
        except asyncio.CancelledError:
            await self._release(run, claim)
            raise
        except Exception as error:
            await self._give_back(run, claim, error)
            return False
        finally:
            self._queued.discard(run_id)
            keeper.cancel()
        await self._finish(run, claim)
        return True

    async def _post(
        self,
        notifier: ChatNotifier,
        run: Run,
        journal: DeliveryJournal,
        settled: Awaitable[None] | None,
    ) -> RunResult | None:
        """The result's messages, holding a slot (the files are in memory meanwhile); returns
        how the status message should end. The files are fetched while the balance is read."""
        outputs = asyncio.ensure_future(self._outputs(run))
        try:
            balance = await self._balance(run, settled)
            files, texts = await outputs
        except BaseException:
            outputs.cancel()
            raise
        result = RunResult(
            run=run,
            files=tuple(files),
            texts=tuple(texts),
            actions=self._actions_for(run),
            balance=balance,
        )
        async with self._progress.posting(run):
            return await notifier.post_result(result, journal)

    async def _outputs(self, run: Run) -> tuple[list[ResultFile], list[str]]:
        if run.status is not RunStatus.SUCCESS:
            return [], []
        return await self._files.save_outputs(run)

    async def _balance(self, run: Run, settled: Awaitable[None] | None = None) -> int | None:
        if settled is not None:  # never fails (the tracker logs a failed settling); shielded,
            await asyncio.shield(settled)  # so a delivery stopped here leaves the caller's alone
        try:
            return await self._balance_of(run)
        except Exception:  # the caption goes without it
            log.exception("run %s: could not read the balance", run.id)
            return None

    def _final_result(self, run: Run) -> RunResult:
        """A status message put back in its final state: the buttons of a success are on its
        result; a failure's notice keeps them."""
        actions = () if run.status is RunStatus.SUCCESS else self._actions_for(run)
        return RunResult(run=run, actions=actions)

    async def _keep(self, run_id: str, claim: Claim, journal: DeliveryJournal) -> None:
        """Renew the lease while the delivery runs; a failed renewal stops it at its next
        message."""
        while True:
            await self._clock.sleep(self._policy.renew_every_s)
            renewed = Claim(claim.owner, self._clock.now() + self._policy.lease)
            try:
                if not await self._store.renew_claim(run_id, renewed):
                    journal.lost = True
                    return
            except Exception:
                log.exception("run %s: could not renew the delivery claim", run_id)

    async def _finish(self, run: Run, claim: Claim) -> None:
        """Retried: a database error here would leave the claim to expire and the next holder
        to find every message already sent, which is safe, but slower."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(3),
            wait=wait_fixed(0.2),
            retry=retry_if_exception_type(Exception),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._store.finish_delivery(run.id, claim.owner, self._clock.now())
        except Exception:
            log.exception(
                "run %s: delivered, but the record failed; its claim will expire", run.id
            )
            return
        since = run.last_event_at or run.updated_at
        self._metrics.delivery_latency.observe((self._clock.now() - since).total_seconds())
        self._metrics.deliveries["delivered"] += 1
        log.info("run %s delivered to %s:%s", run.id, run.chat.platform, run.chat.chat_id)

    async def _release(self, run: Run, claim: Claim) -> None:
        """Stopped mid-delivery (shutdown): give it back at once for the next process."""
        try:
            await self._store.retry_delivery(run.id, claim.owner, self._clock.now(), count=False)
        except Exception:
            log.exception(
                "run %s: could not give the delivery back; its claim will expire", run.id
            )

    async def _give_back(self, run: Run, claim: Claim, error: Exception) -> None:
        now = self._clock.now()
        attempts = run.delivery_attempts + 1
        failure = error if isinstance(error, SendFailed) else None
        doubling = 2 ** min(attempts - 1, 20)  # past that the cap applies anyway
        backoff = min(self._policy.backoff_base * doubling, self._policy.backoff_max)
        if failure is not None and failure.retry_after:
            backoff = max(backoff, timedelta(seconds=failure.retry_after))
        ended = run.last_event_at or run.updated_at  # our clock, not the backend's
        out_of_time = now + backoff - ended > self._policy.retry_budget
        give_up = (failure is not None and failure.permanent) or out_of_time
        if failure is not None:
            log.warning("run %s: delivery failed (attempt %d): %s", run.id, attempts, failure)
        else:
            log.exception("run %s: delivery failed (attempt %d)", run.id, attempts, exc_info=error)
        self._metrics.deliveries["abandoned" if give_up else "retried"] += 1
        platform_down = failure is not None and failure.platform_down
        await self._store.retry_delivery(
            run.id, claim.owner, None if give_up else now + backoff, count=not platform_down
        )

    async def deliver_due(self, limit: int = 50) -> int:
        """Start the deliveries still owed to the platforms this process serves (after a failed
        send, a restart, another process's crash); returns how many were started."""
        if not self._notifiers or self._stopping:
            return 0
        due = await self._store.deliveries_due(self._clock.now(), limit, self.platforms)
        return sum(1 for run in due if self._start(run.id, run, None))

    async def drain(self) -> None:
        """Wait for queued progress edits and running deliveries (tests, clean shutdown)."""
        while True:
            await self._progress.drain()
            active = list(self._active.values())
            if not active:
                return
            await asyncio.gather(*active, return_exceptions=True)

    async def stop(self, grace_s: float) -> None:
        """Take no new deliveries; give back at once those still waiting for their chat's turn
        or a slot, let the ones posting finish within `grace_s`, then give the rest back (their
        claims released, so another process takes them at once)."""
        self._stopping = True
        for run_id in self._queued:  # not posting yet: the next process takes them now
            waiting = self._active.get(run_id)
            if waiting is not None:
                waiting.cancel()
        active = list(self._active.values())
        if active:
            _, late = await asyncio.wait(active, timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._progress.close()

    async def close(self) -> None:
        await self.stop(0)
