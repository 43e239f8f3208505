"""Progress and results to the chat a run came from.

Results: the right to deliver is claimed with one conditional update, so one process posts each
result once, even with several instances; failed sends go back with a backoff. Progress: edits are
coalesced per chat (the latest view wins) and spaced by `progress_interval`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from core.errors import SendFailed
from core.files import FileManager
from core.metrics import Metrics
from core.models import ProgressView, ResultFile, Run, RunResult, RunStatus
from core.policy import DEFAULT_LEASE
from core.ports import ChatNotifier, Clock, RunStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    lease: timedelta = DEFAULT_LEASE
    """How long a claim holds before another process may take the delivery over."""
    max_attempts: int = 8
    backoff_base: timedelta = timedelta(seconds=2)
    backoff_max: timedelta = timedelta(minutes=10)
    progress_interval_s: float = 1.5


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
    ) -> None:
        self._store = store
        self._files = files
        self._clock = clock
        self._metrics = metrics
        self._policy = policy
        self._notifiers = {n.platform: n for n in notifiers}
        self._chats: dict[tuple[str, str], _ChatQueue] = {}

    def add_notifier(self, notifier: ChatNotifier) -> None:
        self._notifiers[notifier.platform] = notifier

    async def run_changed(self, run: Run, claimed: bool = False) -> None:
        if run.status.terminal:
            await self.deliver(run.id, run, claimed)
        else:
            await self.show_progress(run)

    # -- progress ------------------------------------------------------------------------

    async def show_progress(self, run: Run) -> None:
        """Queue the latest view of a run for its chat; the chat's sender edits at its pace."""
        if run.chat.platform not in self._notifiers:
            return
        key = (run.chat.platform, run.chat.chat_id)
        queue = self._chats.get(key)
        if queue is None:
            queue = self._chats[key] = _ChatQueue()
        queue.latest[run.id] = ProgressView(
            run=run,
            status=run.status,
            progress=run.progress,
            live_status=run.live_status,
            queue_position=run.queue_position,
        )
        if queue.sender is None or queue.sender.done():
            queue.sender = asyncio.create_task(self._send_progress(key, queue))
            await asyncio.sleep(0)

    async def _send_progress(self, key: tuple[str, str], queue: _ChatQueue) -> None:
        loop = asyncio.get_running_loop()
        notifier = self._notifiers[key[0]]
        while queue.latest:
            wait = queue.next_at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not queue.latest:
                break
            run_id = next(iter(queue.latest))
            view = queue.latest.pop(run_id)
            known = queue.message_ids.get(run_id) or view.run.progress_message_id
            run = view.run.model_copy(update={"progress_message_id": known})
            async with queue.lock:
                if run_id in queue.finished:
                    continue
                try:
                    created = await notifier.show_progress(view.model_copy(update={"run": run}))
                except SendFailed as error:
                    log.info("run %s: progress edit failed: %s", run_id, error)
                    if error.retry_after:
                        queue.next_at = loop.time() + error.retry_after
                    continue
                except Exception:
                    log.exception("run %s: progress edit failed", run_id)
                    continue
                if created and created != run.progress_message_id:
                    queue.message_ids[run_id] = created
                    await self._store.set_progress_message(run_id, created)
            queue.next_at = loop.time() + self._policy.progress_interval_s
        if not queue.latest and self._chats.get(key) is queue and not queue.message_ids:
            del self._chats[key]

    # -- results -------------------------------------------------------------------------

    async def deliver(self, run_id: str, run: Run | None = None, claimed: bool = False) -> bool:
        """Claim (unless `claimed`) and post a finished run's result. True when delivered here.

        `run`, when given, is the run as just read after its terminal event (saves a read)."""
        if run is None:
            run = await self._store.get(run_id)
        if run is None or not run.status.terminal:
            return False
        notifier = self._notifiers.get(run.chat.platform)
        now = self._clock.now()
        if notifier is None:
            if claimed:  # not ours to show: hand it to a process that serves that platform
                await self._store.retry_delivery(run_id, now)
            return False
        if not claimed and not await self._store.claim_delivery(
            run_id, now, now + self._policy.lease
        ):
            return False
        queue = self._chats.get((run.chat.platform, run.chat.chat_id))
        if queue is not None:
            queue.latest.pop(run_id, None)
            known = queue.message_ids.pop(run_id, None)
            queue.finished.add(run_id)
            if known and not run.progress_message_id:
                run = run.model_copy(update={"progress_message_id": known})
        try:
            if queue is not None:
                async with queue.lock:
                    await self._post(notifier, run)
            else:
                await self._post(notifier, run)
        except Exception as error:
            await self._give_back(run, error)
            return False
        finally:
            if queue is not None:
                queue.finished.discard(run_id)
        await self._store.finish_delivery(run_id, self._clock.now())
        since = run.last_event_at or run.updated_at
        self._metrics.delivery_latency.observe((self._clock.now() - since).total_seconds())
        self._metrics.deliveries["delivered"] += 1
        log.info("run %s delivered to %s:%s", run_id, run.chat.platform, run.chat.chat_id)
        return True

    async def _post(self, notifier: ChatNotifier, run: Run) -> None:
        files: list[ResultFile] = []
        texts: list[str] = []
        if run.status is RunStatus.SUCCESS:
            files, texts = await self._files.save_outputs(run)
        await notifier.deliver_result(RunResult(run=run, files=tuple(files), texts=tuple(texts)))

    async def _give_back(self, run: Run, error: Exception) -> None:
        attempts = run.delivery_attempts + 1
        permanent = isinstance(error, SendFailed) and error.permanent
        abandon = permanent or attempts >= self._policy.max_attempts
        backoff = min(self._policy.backoff_base * (2 ** (attempts - 1)), self._policy.backoff_max)
        if isinstance(error, SendFailed) and error.retry_after:
            backoff = max(backoff, timedelta(seconds=error.retry_after))
        if isinstance(error, SendFailed):
            log.warning("run %s: delivery failed (attempt %d): %s", run.id, attempts, error)
        else:
            log.exception("run %s: delivery failed (attempt %d)", run.id, attempts)
        self._metrics.deliveries["abandoned" if abandon else "retried"] += 1
        due = None if abandon else self._clock.now() + backoff
        await self._store.retry_delivery(run.id, due, abandon=abandon)

    async def deliver_due(self, limit: int = 50) -> int:
        """Deliver results still owed: after a failed send, a restart, another process's crash."""
        delivered = 0
        for run in await self._store.deliveries_due(self._clock.now(), limit):
            if run.chat.platform in self._notifiers and await self.deliver(run.id):
                delivered += 1
        return delivered

    async def close(self) -> None:
        senders = [q.sender for q in self._chats.values() if q.sender and not q.sender.done()]
        for sender in senders:
            sender.cancel()
        await asyncio.gather(*senders, return_exceptions=True)

    async def drain(self) -> None:
        """Wait until every queued progress edit has been sent (tests, clean shutdown)."""
        while True:
            senders = [q.sender for q in self._chats.values() if q.sender and not q.sender.done()]
            if not senders:
                return
            await asyncio.gather(*senders, return_exceptions=True)


class _ChatQueue:
    """Progress waiting for one chat: the latest view per run, and the chat's single sender."""

    def __init__(self) -> None:
        self.latest: dict[str, ProgressView] = {}
        self.message_ids: dict[str, str] = {}
        self.finished: set[str] = set()
        self.sender: asyncio.Task[None] | None = None
        self.next_at = 0.0
        self.lock = asyncio.Lock()
