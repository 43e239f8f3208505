"""A part journaled `sending` only as its request leaves the pacer (`leaving()`): what is
stored after each way a send can end. `sending` means "may have gone": it is never resent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from core.errors import SendFailed
from core.journal import leaving, send_once
from core.models import PartState
from tests.fakes.journal import MemoryPartLog


def request(*, leaves: bool, then: Exception | None = None) -> Callable[[], Awaitable[str]]:
    async def send() -> str:
        if leaves:
            await leaving()  # what the pacer calls once the chat's turn has come
            await leaving()  # a retried request (after a flood wait) marks nothing again
        if then is not None:
            raise then
        return "message"

    return send


async def test_a_part_that_leaves_and_is_accepted_is_sent() -> None:
    log = MemoryPartLog()
    assert await send_once(log.journal(), "p", request(leaves=True), mark_on_leaving=True)
    assert log.writes == [("p", PartState.SENDING), ("p", PartState.SENT)]


async def test_a_part_refused_before_it_left_was_never_marked() -> None:
    log = MemoryPartLog()
    with pytest.raises(SendFailed):
        await send_once(
            log.journal(),
            "p",
            request(leaves=False, then=SendFailed("busy")),
            mark_on_leaving=True,
        )
    assert log.writes == []


@pytest.mark.parametrize(
    ("failure", "stored"),
    [(SendFailed("no answer", maybe_sent=True), PartState.SENDING), (SendFailed("refused"), None)],
)
async def test_a_part_that_left_stays_sending_only_if_it_may_have_arrived(
    failure: SendFailed, stored: PartState | None
) -> None:
    log = MemoryPartLog()
    with pytest.raises(SendFailed):
        await send_once(
            log.journal(), "p", request(leaves=True, then=failure), mark_on_leaving=True
        )
    assert log.parts.get("p") is stored
    again = log.journal()
    sent = await send_once(again, "p", request(leaves=True), mark_on_leaving=True)
    assert (sent is None) == (stored is PartState.SENDING)  # a maybe-sent part is not resent
