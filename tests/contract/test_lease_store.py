"""LeaseStore contract: one holder at a time, a new term each time it changes hands, renewals
and releases fenced by the term."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from core.ports import LeaseStore

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TERM = timedelta(seconds=10)


async def test_a_free_lease_is_taken_and_then_refused_to_others(lease_store: LeaseStore) -> None:
    grant = await lease_store.acquire("sweeps", "a", NOW, NOW + TERM)
    assert grant is not None and (grant.owner, grant.until) == ("a", NOW + TERM)
    assert await lease_store.acquire("sweeps", "b", NOW + TERM / 2, NOW + TERM * 2) is None
    assert await lease_store.current("sweeps", NOW + TERM / 2) == grant
    other = await lease_store.acquire("telegram:polling", "b", NOW, NOW + TERM)
    assert other is not None and other.owner == "b"  # leases are independent by name


async def test_one_of_many_at_once_wins(lease_store: LeaseStore) -> None:
    owners = [f"p{i}" for i in range(6)]
    grants = await asyncio.gather(
        *(lease_store.acquire("gateway", o, NOW, NOW + TERM) for o in owners)
    )
    won = [g for g in grants if g is not None]
    assert len(won) == 1
    assert await lease_store.current("gateway", NOW) == won[0]


async def test_a_lease_that_ran_out_goes_to_the_next_in_a_new_term(
    lease_store: LeaseStore,
) -> None:
    first = await lease_store.acquire("sweeps", "a", NOW, NOW + TERM)
    assert first is not None
    later = NOW + TERM + timedelta(seconds=1)
    assert await lease_store.current("sweeps", later) is None
    second = await lease_store.acquire("sweeps", "b", later, later + TERM)
    assert second is not None and second.owner == "b" and second.token == first.token + 1
    # The old holder can neither extend nor give up the new term.
    assert await lease_store.renew(first, later + TERM * 2) is None
    assert await lease_store.release(first) is False
    assert await lease_store.current("sweeps", later) == second


async def test_renewal_extends_the_same_term(lease_store: LeaseStore) -> None:
    grant = await lease_store.acquire("sweeps", "a", NOW, NOW + TERM)
    assert grant is not None
    renewed = await lease_store.renew(grant, NOW + TERM * 2)
    assert renewed is not None and renewed.token == grant.token
    assert renewed.until == NOW + TERM * 2
    assert await lease_store.acquire("sweeps", "b", NOW + TERM * 1.5, NOW + TERM * 3) is None


async def test_a_renewal_after_running_out_works_while_nobody_took_it(
    lease_store: LeaseStore,
) -> None:
    """A holder cut off from the database a while keeps its term if nobody took it meanwhile."""
    grant = await lease_store.acquire("sweeps", "a", NOW, NOW + TERM)
    assert grant is not None
    late = NOW + TERM * 2
    renewed = await lease_store.renew(grant, late + TERM)
    assert renewed is not None and renewed.token == grant.token
    assert await lease_store.current("sweeps", late) == renewed


async def test_a_released_lease_is_free_at_once(lease_store: LeaseStore) -> None:
    grant = await lease_store.acquire("sweeps", "a", NOW, NOW + TERM)
    assert grant is not None
    assert await lease_store.release(grant) is True
    assert await lease_store.current("sweeps", NOW) is None
    assert await lease_store.renew(grant, NOW + TERM) is None
    taken = await lease_store.acquire("sweeps", "b", NOW, NOW + TERM)
    assert taken is not None and taken.token == grant.token + 1
