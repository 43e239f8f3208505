"""A result delivery's record of what it has posted, message by message.

A result is several messages (an album, a video, a text with the links). Before each one is sent
the journal records it as `sending`, and as `sent` once the platform accepted it. A retry, in
this process or another, resumes after the last confirmed message. A message left `sending` (the
platform may or may not have taken it: an upload that timed out, a crash mid-send) is never sent
again, unless the platform itself drops duplicates (Discord's `enforce_nonce`): at most once per
message, so nothing is ever posted twice.

Every write is fenced by the claim's owner token: once another process has taken the delivery
over, the next write raises `ClaimLost` and this sender stops before its next message.

A platform whose requests wait for their turn (Telegram's pacer: a second between messages in a
chat) marks a part `sending` only when its request leaves (`leaving()`, called by the pacer), not
before the wait: a process killed while the request waited has sent nothing, and its successor
sends that part instead of leaving it out.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from tenacity import (
    AsyncRetrying,
    retry_if_not_exception_type,
    stop_after_delay,
    wait_exponential,
)

from core.errors import SendFailed
from core.models import PartState

T = TypeVar("T")
UNDO_RETRY_S = 10.0
"""How long a journal entry that must be taken back is tried again (a database restart)."""


@dataclass(frozen=True)
class Claim:
    """The right to deliver one run's result, held by `owner` until `until` (renewed while
    sending)."""

    owner: str
    until: datetime

    @classmethod
    def new(cls, until: datetime) -> Claim:
        return cls(secrets.token_hex(8), until)


class ClaimLost(Exception):
    """Another process holds the delivery now: stop sending."""


class PartLog(Protocol):
    """Where the journal keeps its record (the run store)."""

    async def set_part(self, run_id: str, owner: str, part: str, state: PartState | None) -> bool:
        """Record a part's state (None forgets it) if `owner` still holds the claim."""
        ...


class DeliveryJournal:
    def __init__(
        self, log: PartLog, run_id: str, owner: str, parts: Mapping[str, PartState]
    ) -> None:
        self._log = log
        self._run_id = run_id
        self._owner = owner
        self._parts = dict(parts)
        self.lost = False
        """Set when the claim's renewal failed: the next write raises at once."""

    def state(self, part: str) -> PartState | None:
        return self._parts.get(part)

    @property
    def sent(self) -> int:
        return sum(1 for state in self._parts.values() if state is PartState.SENT)

    async def begin(self, part: str) -> None:
        await self._write(part, PartState.SENDING)

    async def done(self, part: str) -> None:
        await self._write(part, PartState.SENT)

    async def undo(self, part: str) -> None:
        """The part surely did not go out: it may be sent again. Tried again while the
        database is away a moment (a restart): left `sending`, the part would never be sent."""
        retrying = AsyncRetrying(
            stop=stop_after_delay(UNDO_RETRY_S),
            wait=wait_exponential(multiplier=0.1, max=2.0),
            retry=retry_if_not_exception_type(ClaimLost),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._write(part, None)

    async def _write(self, part: str, state: PartState | None) -> None:
        if self.lost or not await self._log.set_part(self._run_id, self._owner, part, state):
            self.lost = True
            raise ClaimLost(f"run {self._run_id}: the delivery was taken over")
        if state is None:
            self._parts.pop(part, None)
        else:
            self._parts[part] = state


class _MarkOnLeaving:
    """A part's `sending` mark, written once, when the first request of the part leaves."""

    def __init__(self, journal: DeliveryJournal, part: str) -> None:
        self._journal = journal
        self._part = part
        self.tried = False
        self.written = False

    async def write(self) -> None:
        if self.tried:
            return
        self.tried = True
        await self._journal.begin(self._part)
        self.written = True


_leaving: ContextVar[_MarkOnLeaving | None] = ContextVar("journal_mark_on_leaving", default=None)


async def leaving() -> None:
    """For a platform's pacer, right before a request leaves: write the `sending` mark of the
    result part the request belongs to, if that part waits for it (`mark_on_leaving`)."""
    mark = _leaving.get()
    if mark is not None:
        await mark.write()


async def send_once(
    journal: DeliveryJournal,
    part: str,
    send: Callable[[], Awaitable[T]],
    *,
    resend_uncertain: bool = False,
    mark_on_leaving: bool = False,
) -> T | None:
    """Send one part of a result unless the journal says it went out (or may have). Returns
    what `send` returned, or None when skipped. `resend_uncertain` only for platforms that drop
    a repeated message themselves; `mark_on_leaving` only for platforms whose every request
    passes `leaving()` on its way out."""
    state = journal.state(part)
    if state is PartState.SENT or (state is PartState.SENDING and not resend_uncertain):
        return None
    mark = _MarkOnLeaving(journal, part)
    token = _leaving.set(mark)
    try:
        if not mark_on_leaving:
            await mark.write()
        result = await send()
    except ClaimLost:
        raise
    except SendFailed as failure:
        if mark.tried and not (mark.written and failure.maybe_sent):
            await journal.undo(part)
        raise
    except Exception:
        if mark.tried and not mark.written:
            # The mark may be written although its answer was lost (the database restarted):
            # nothing was sent, so take it back, or the part would never be sent.
            await journal.undo(part)
        raise
    finally:
        _leaving.reset(token)
    await journal.done(part)
    return result
