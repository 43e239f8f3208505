"""Live status messages: the latest view of each run is queued for its chat, and one sender per
chat edits at its pace (`interval_s`), so bursts coalesce into one edit per message.

A result delivery holds the chat while it posts, and the views of a finished run are dropped.
After each edit the sender asks the store whether the run ended meanwhile: another process may
have delivered it between our view and our edit, and then the status message is put back in its
final state, so a late "Running 95%" never sticks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from cachetools import TTLCache

from core.errors import SendFailed
from core.models import ProgressView, Run, RunResult
from core.ports import ChatNotifier, RunStore

log = logging.getLogger(__name__)

ChatKey = tuple[str, str]
FinalView = Callable[[Run], RunResult]
PACE_KEPT = 1024
MESSAGE_IDS_KEPT = 100_000
MESSAGE_ID_TTL_S = 3600.0
"""Chats whose next edit time is kept past their queue before the past ones are dropped."""


class _ChatQueue:
    """Progress waiting for one chat: the latest view per run, and the chat's single sender.
    Kept only while it has work or a result is being posted there (memory: one per busy chat,
    not per run in flight)."""

    __slots__ = ("finished", "latest", "lock", "next_at", "sender")

    def __init__(self, next_at: float) -> None:
        self.latest: dict[str, ProgressView] = {}
        self.finished: set[str] = set()
        self.sender: asyncio.Task[None] | None = None
        self.next_at = next_at
        self.lock = asyncio.Lock()

    @property
    def idle(self) -> bool:
        return not self.latest and not self.finished and not self.lock.locked()


class ProgressBoard:
    def __init__(
        self,
        store: RunStore,
        notifiers: dict[str, ChatNotifier],
        final_view: FinalView,
        interval_s: float,
    ) -> None:
        self._store = store
        self._notifiers = notifiers
        self._final_view = final_view
        self._interval_s = interval_s
        self._chats: dict[ChatKey, _ChatQueue] = {}
        self._message_ids: TTLCache[str, str] = TTLCache(MESSAGE_IDS_KEPT, MESSAGE_ID_TTL_S)
        """Status messages this process created, by run, until the run's result is posted here
        or seen delivered; bounded, for runs another process delivers without our noticing
        (the store has the id too: this only covers a view queued before it was written)."""
        self._next_at: dict[ChatKey, float] = {}
        """When a chat whose queue is gone may have its next edit (its pace outlives it)."""

    async def show(
        self, run: Run, line_position: int | None = None, starts_in_s: float | None = None
    ) -> None:
        """Queue the latest view of a run for its chat; the chat's sender edits at its pace.
        `line_position`: its place in the fair queue while it waits there."""
        if run.chat.platform not in self._notifiers:
            return
        key = (run.chat.platform, run.chat.chat_id)
        queue = self._chats.get(key)
        if queue is None:
            queue = self._chats[key] = _ChatQueue(self._next_at.pop(key, 0.0))
        queue.latest[run.id] = ProgressView(
            run=run,
            status=run.status,
            progress=run.progress,
            live_status=run.live_status,
            queue_position=run.queue_position,
            line_position=line_position,
            starts_in_s=starts_in_s,
        )
        if queue.sender is None or queue.sender.done():
            queue.sender = asyncio.create_task(self._send(key, queue))
            await asyncio.sleep(0)

    @asynccontextmanager
    async def holding(self, run: Run) -> AsyncIterator[Run]:
        """While a result is delivered (posted, then its status message ended): no progress
        edit for the run. Yields the run with the status message id this process knows."""
        key = (run.chat.platform, run.chat.chat_id)
        known = self._message_ids.pop(run.id, None)
        if known and not run.progress_message_id:
            run = run.model_copy(update={"progress_message_id": known})
        queue = self._chats.get(key)
        if queue is None:
            yield run
            return
        queue.latest.pop(run.id, None)
        queue.finished.add(run.id)
        try:
            yield run
        finally:
            queue.finished.discard(run.id)
            self._forget_if_idle(key, queue)

    @asynccontextmanager
    async def posting(self, run: Run) -> AsyncIterator[None]:
        """While a result's messages are posted: no progress edit in its chat."""
        queue = self._chats.get((run.chat.platform, run.chat.chat_id))
        if queue is None:
            yield
            return
        async with queue.lock:
            yield

    def _forget_if_idle(self, key: ChatKey, queue: _ChatQueue) -> None:
        done = queue.sender is None or queue.sender.done()
        if queue.idle and done and self._chats.get(key) is queue:
            del self._chats[key]
            self._keep_pace(key, queue.next_at)

    def _keep_pace(self, key: ChatKey, next_at: float) -> None:
        now = asyncio.get_running_loop().time()
        if next_at > now:
            self._next_at[key] = next_at
        if len(self._next_at) > PACE_KEPT:
            self._next_at = {k: t for k, t in self._next_at.items() if t > now}

    async def _send(self, key: ChatKey, queue: _ChatQueue) -> None:
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
            known = self._message_ids.get(run_id) or view.run.progress_message_id
            run = view.run.model_copy(update={"progress_message_id": known})
            async with queue.lock:
                if run_id in queue.finished:
                    continue
                edited, retry_after = await self._edit(
                    notifier, view.model_copy(update={"run": run})
                )
            if edited and run_id not in queue.finished:
                # Outside the chat's lock: a result posted meanwhile does not wait for it, and
                # a delivery holding the run here ends its status message itself.
                await self._end_if_finished(notifier, run)
            queue.next_at = loop.time() + max(self._interval_s, retry_after or 0.0)
        queue.sender = None  # done: the task is not kept with the queue
        self._forget_if_idle(key, queue)

    async def _edit(self, notifier: ChatNotifier, view: ProgressView) -> tuple[bool, float | None]:
        """The edit: whether it was made, and a flood wait's seconds when refused for one."""
        run = view.run
        try:
            created = await notifier.show_progress(view)
        except SendFailed as error:
            # A flood wait (Telegram's, or the pacer keeping room for results) is routine.
            level = logging.DEBUG if error.retry_after else logging.INFO
            log.log(level, "run %s: progress edit failed: %s", run.id, error)
            return False, error.retry_after
        except Exception:
            log.exception("run %s: progress edit failed", run.id)
            return False, None
        if created and created != run.progress_message_id:
            self._message_ids[run.id] = created
            await self._store.set_progress_message(run.id, created)
        return True, None

    async def _end_if_finished(self, notifier: ChatNotifier, run: Run) -> None:
        """After an edit: if the run ended meanwhile (delivered by another process, or about
        to be here), its status message goes back to its final state."""
        if not await self._store.is_finished(run.id):
            return
        known = self._message_ids.pop(run.id, None) or run.progress_message_id
        ended = await self._store.get(run.id)
        if ended is None:
            return
        final = ended.model_copy(update={"progress_message_id": known})
        try:
            await notifier.end_status(self._final_view(final))
        except SendFailed as error:
            log.info("run %s: final status edit failed: %s", run.id, error)

    @property
    def remembered(self) -> int:
        """Status message ids kept for runs not delivered here yet (tests, memory)."""
        return len(self._message_ids)

    async def drain(self) -> None:
        """Wait until every queued edit has been sent (tests, clean shutdown)."""
        while True:
            senders = [q.sender for q in self._chats.values() if q.sender and not q.sender.done()]
            if not senders:
                return
            await asyncio.gather(*senders, return_exceptions=True)

    async def close(self) -> None:
        senders = [q.sender for q in self._chats.values() if q.sender and not q.sender.done()]
        for sender in senders:
            sender.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
