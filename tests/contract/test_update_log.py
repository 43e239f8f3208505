"""UpdateLog contract: each update claimed by one process at a time and done once; a claim
that ran out is taken over; earlier updates of a chat being handled elsewhere are found."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from core.inbound import Arrival, UpdateClaim, UpdateEntry
from core.ports import UpdateLog

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TERM = timedelta(seconds=10)


def entry(seq: int, chat: str = "telegram:5") -> UpdateEntry:
    return UpdateEntry(f"telegram:1:{seq}", chat, seq, {"update_id": seq, "message": {"x": 1}})


async def test_a_new_update_is_claimed_a_repeat_is_busy_then_done(update_log: UpdateLog) -> None:
    first = entry(10)
    assert await update_log.claim(first, "a", NOW, NOW + TERM) == UpdateClaim(Arrival.NEW)
    busy = await update_log.claim(first, "b", NOW, NOW + TERM)
    assert busy.arrival is Arrival.BUSY and busy.until == NOW + TERM
    assert await update_log.finish(first.key, "a", NOW) is True
    later = NOW + TERM * 3
    assert await update_log.claim(first, "b", later, later + TERM) == UpdateClaim(Arrival.DONE)
    assert await update_log.claim(first, "a", later, later + TERM) == UpdateClaim(Arrival.DONE)


async def test_many_claims_at_once_one_is_new(update_log: UpdateLog) -> None:
    claims = await asyncio.gather(
        *(update_log.claim(entry(3), f"p{i}", NOW, NOW + TERM) for i in range(5))
    )
    assert sorted(c.arrival.value for c in claims) == ["busy"] * 4 + ["new"]


async def test_a_claim_that_ran_out_is_taken_over_and_its_first_owner_is_fenced(
    update_log: UpdateLog,
) -> None:
    first = entry(11)
    await update_log.claim(first, "a", NOW, NOW + TERM)
    later = NOW + TERM + timedelta(seconds=1)
    assert [e.key for e in await update_log.abandoned(later, 10)] == [first.key]
    (found,) = await update_log.abandoned(later, 10)
    assert found.payload == first.payload and (found.chat, found.seq) == (first.chat, 11)
    assert await update_log.claim(first, "b", later, later + TERM) == UpdateClaim(Arrival.NEW)
    assert await update_log.abandoned(later, 10) == []
    assert await update_log.renew(first.key, "a", later + TERM) is False
    assert await update_log.finish(first.key, "a", later) is False
    assert await update_log.renew(first.key, "b", later + TERM * 2) is True
    assert await update_log.finish(first.key, "b", later) is True


async def test_a_claim_given_up_is_taken_at_once(update_log: UpdateLog) -> None:
    first = entry(12)
    await update_log.claim(first, "a", NOW, NOW + TERM)
    await update_log.release(first.key, "a")
    assert [e.key for e in await update_log.abandoned(NOW, 10)] == [first.key]
    assert await update_log.claim(first, "b", NOW, NOW + TERM) == UpdateClaim(Arrival.NEW)


async def test_an_earlier_update_of_the_chat_handled_elsewhere_blocks(
    update_log: UpdateLog,
) -> None:
    await update_log.claim(entry(20), "a", NOW, NOW + TERM)
    await update_log.claim(entry(21, chat="telegram:6"), "a", NOW, NOW + TERM)
    assert await update_log.blocker("telegram:5", 22, "b", NOW) == NOW + TERM
    assert await update_log.blocker("telegram:5", 22, "a", NOW) is None  # its own
    assert await update_log.blocker("telegram:5", 19, "b", NOW) is None  # later ones
    assert await update_log.blocker("telegram:7", 22, "b", NOW) is None  # other chats
    assert await update_log.blocker("telegram:5", 22, "b", NOW + TERM * 2) is None  # ran out
    await update_log.finish("telegram:1:20", "a", NOW)
    assert await update_log.blocker("telegram:5", 22, "b", NOW) is None
