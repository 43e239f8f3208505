"""AccountStore contract: holds, slots and settlements once each; balances that never go below
zero and always equal the sum of their ledger."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import cast

from core.expiry import CreditExpiry, IdleAccounts
from core.ledger import LedgerKind, Refusal
from core.ports import AccountStore, DeploymentSlots, RateLimiter
from core.rate_limit import Pace
from tests.fakes.clock import FakeClock

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ALICE = "console:alice"
DAY = 86_400


async def ledger_matches(store: AccountStore, user: str) -> None:
    """The balance is the sum of the user's ledger entries, before and after they are copied."""
    for _ in range(2):
        balance = await store.balance(user)
        entries = await store.statement(user, 10_000)
        assert sum(e.available for e in entries) == balance.available
        assert sum(e.reserved for e in entries) == balance.reserved
        assert balance.available >= 0 and balance.reserved >= 0
        await store.flush_ledger(100)


async def test_welcome_credits_once(account_store: AccountStore) -> None:
    await asyncio.gather(*(account_store.open(ALICE, 1000, NOW) for _ in range(5)))
    await account_store.open(ALICE, 1000, NOW)
    assert (await account_store.balance(ALICE)).available == 1000
    [welcome] = await account_store.statement(ALICE, 10)
    assert (welcome.kind, welcome.available, welcome.key) == (
        LedgerKind.WELCOME,
        1000,
        f"welcome:{ALICE}",
    )
    await ledger_matches(account_store, ALICE)


async def test_a_hundred_commands_at_once_against_a_balance_for_ten(
    account_store: AccountStore,
) -> None:
    await account_store.open(ALICE, 1000, NOW)
    results = await asyncio.gather(
        *(account_store.admit(ALICE, f"run{n:03d}", 100, 500, NOW) for n in range(100))
    )
    assert results.count(None) == 10
    assert results.count(Refusal.NO_CREDITS) == 90
    balance = await account_store.balance(ALICE)
    assert (balance.available, balance.reserved, balance.active) == (0, 1000, 10)
    await ledger_matches(account_store, ALICE)


async def test_the_queue_cap_refuses_and_holds_nothing(account_store: AccountStore) -> None:
    await account_store.open(ALICE, 1000, NOW)
    assert await account_store.admit(ALICE, "a", 10, 2, NOW) is None
    assert await account_store.admit(ALICE, "b", 10, 2, NOW) is None
    assert await account_store.admit(ALICE, "c", 10, 2, NOW) is Refusal.QUEUE_FULL
    assert await account_store.admit(ALICE, "a", 10, 5, NOW) is not None  # once per run
    assert (await account_store.balance(ALICE)).available == 980


async def test_settlement_charges_once_and_gives_the_rest_back(
    account_store: AccountStore,
) -> None:
    await account_store.open(ALICE, 1000, NOW)
    assert await account_store.admit(ALICE, "ok", 300, 5, NOW) is None
    assert await account_store.admit(ALICE, "failed", 200, 5, NOW) is None
    assert await account_store.take_slot(ALICE, "ok", 2, NOW)
    done = await asyncio.gather(
        *(account_store.finish(ALICE, "ok", 300, 123, NOW) for _ in range(4))
    )
    assert sorted(done) == [False, False, False, True]
    assert await account_store.finish(ALICE, "failed", 200, 0, NOW)
    balance = await account_store.balance(ALICE)
    assert (balance.available, balance.reserved, balance.active, balance.running) == (
        877,
        0,
        0,
        0,
    )
    await ledger_matches(account_store, ALICE)


async def test_a_release_gives_the_whole_hold_back(account_store: AccountStore) -> None:
    await account_store.open(ALICE, 500, NOW)
    assert await account_store.admit(ALICE, "gone", 200, 5, NOW) is None
    assert await account_store.release(ALICE, "gone", NOW)
    assert not await account_store.release(ALICE, "gone", NOW)
    assert not await account_store.finish(ALICE, "gone", 200, 200, NOW)
    assert (await account_store.balance(ALICE)).available == 500
    await ledger_matches(account_store, ALICE)


async def test_running_slots_are_capped_and_freed(account_store: AccountStore) -> None:
    await account_store.open(ALICE, 0, NOW)
    later = NOW + timedelta(minutes=5)
    assert await account_store.take_slot(ALICE, "a", 2, NOW)
    assert not await account_store.take_slot(ALICE, "a", 2, NOW)  # one per run
    assert await account_store.take_slot(ALICE, "b", 2, later)
    assert not await account_store.take_slot(ALICE, "c", 2, later)
    assert await account_store.running_counts([ALICE, "console:nobody"]) == {ALICE: 2}
    await account_store.give_slot(ALICE, "b", taken_before=NOW + timedelta(minutes=1))
    assert (await account_store.balance(ALICE)).running == 2  # b's is newer: kept
    await account_store.give_slot(ALICE, "b")
    assert await account_store.take_slot(ALICE, "c", 2, later)


async def test_credits_and_refunds_apply_once_per_cause(account_store: AccountStore) -> None:
    await account_store.open(ALICE, 0, NOW)
    key = "purchase:telegram:ch_1"
    assert await account_store.credit(
        ALICE, key, LedgerKind.PURCHASE, 5000, NOW, payment_id="telegram:ch_1"
    )
    assert not await account_store.credit(ALICE, key, LedgerKind.PURCHASE, 5000, NOW)
    later = NOW + timedelta(seconds=1)
    assert await account_store.admit(ALICE, "spent", 3000, 5, later) is None
    assert await account_store.finish(ALICE, "spent", 3000, 3000, later)
    last_of_all = NOW + timedelta(seconds=2)
    refund = "refund:telegram:ch_1"
    taken = await account_store.take_back(
        ALICE, refund, LedgerKind.PAYMENT_REFUND, 5000, last_of_all, "telegram:ch_1"
    )
    assert taken == (2000, 3000)  # down to zero; what was spent is the shortfall
    assert (
        await account_store.take_back(
            ALICE, refund, LedgerKind.PAYMENT_REFUND, 5000, NOW, "telegram:ch_1"
        )
        is None
    )
    assert (await account_store.balance(ALICE)).available == 0
    [last, *_] = await account_store.statement(ALICE, 10)
    assert (last.kind, last.available, last.shortfall) == (LedgerKind.PAYMENT_REFUND, -2000, 3000)
    await ledger_matches(account_store, ALICE)


async def test_crash_leftovers_are_found_and_the_ledger_copy_repeats_safely(
    account_store: AccountStore,
) -> None:
    await account_store.open(ALICE, 100, NOW)
    assert await account_store.admit(ALICE, "old", 10, 5, NOW) is None
    assert await account_store.admit(ALICE, "new", 10, 5, NOW + timedelta(minutes=2)) is None
    found = await account_store.admitted_before(NOW + timedelta(minutes=1), 10)
    assert found == [(ALICE, "old")]
    assert await account_store.take_slot(ALICE, "old", 2, NOW)
    assert await account_store.take_slot(ALICE, "new", 2, NOW + timedelta(minutes=2))
    assert await account_store.slots_before(NOW + timedelta(minutes=1), 10) == [(ALICE, "old")]
    await account_store.give_slot(ALICE, "old")
    assert await account_store.slots_before(NOW + timedelta(minutes=3), 10) == [(ALICE, "new")]
    assert await account_store.flush_ledger(10) == 3
    assert await account_store.flush_ledger(10) == 0
    await ledger_matches(account_store, ALICE)


async def test_deployment_slots_hold_across_callers(deployment_slots: DeploymentSlots) -> None:
    taken = await asyncio.gather(
        *(deployment_slots.take("comfydeploy:dep", f"r{n}", 3, NOW) for n in range(10))
    )
    assert taken.count(True) == 3
    holders = [f"r{n}" for n, ok in enumerate(taken) if ok]
    assert not await deployment_slots.take("comfydeploy:dep", holders[0], 5, NOW)  # one per run
    await deployment_slots.give(holders[0])
    assert await deployment_slots.take("comfydeploy:dep", "late", 3, NOW + timedelta(minutes=5))
    stale = await deployment_slots.held_before(NOW + timedelta(minutes=1), 10)
    assert sorted(stale) == sorted(holders[1:])


async def test_a_flood_is_told_once_then_ignored(rate_limiter: RateLimiter) -> None:
    expires = NOW + timedelta(minutes=1)
    paces = [await rate_limiter.hit(ALICE, 3, "202612011200", expires) for _ in range(6)]
    assert paces == [Pace.OK] * 3 + [Pace.SLOW_DOWN, Pace.IGNORED, Pace.IGNORED]
    assert await rate_limiter.hit(ALICE, 3, "202612011201", expires) is Pace.OK
    assert await rate_limiter.hit("console:bob", 3, "202612011200", expires) is Pace.OK


async def test_idle_credits_expire_once_and_never_under_a_hold(
    account_store: AccountStore,
) -> None:
    clock = FakeClock(NOW)
    expiry = CreditExpiry(cast(IdleAccounts, account_store), 30, clock)
    bob = "console:bob"
    await account_store.open(ALICE, 1000, clock.now())
    await account_store.open(bob, 1000, clock.now())
    assert await account_store.admit(bob, "bobs-run", 100, 5, clock.now()) is None
    clock.advance(29 * DAY)
    assert await expiry.expire() == 0  # not idle long enough
    await account_store.credit(ALICE, "grant:1", LedgerKind.GRANT, 500, clock.now(), by="root")
    clock.advance(29 * DAY)
    assert await expiry.expire() == 0  # the grant started her idle time again
    clock.advance(2 * DAY)
    assert await expiry.expire() == 1  # Alice; Bob's run still holds credits
    assert (await account_store.balance(ALICE)).available == 0
    assert (await account_store.balance(bob)).available == 900
    [expired, *_] = await account_store.statement(ALICE, 10)
    assert (expired.kind, expired.available) == (LedgerKind.EXPIRY, -1500)
    clock.advance(60 * DAY)
    assert await expiry.expire() == 0  # nothing left of hers; once per idle stretch
    await ledger_matches(account_store, ALICE)

    assert await account_store.finish(bob, "bobs-run", 100, 40, clock.now())
    clock.advance(30 * DAY + 1)
    assert await expiry.expire() == 1
    assert (await account_store.balance(bob)).available == 0
    await ledger_matches(account_store, bob)


async def test_credits_never_expire_with_no_expiry_days(account_store: AccountStore) -> None:
    clock = FakeClock(NOW)
    await account_store.open(ALICE, 1000, clock.now())
    clock.advance(3650 * DAY)
    assert await CreditExpiry(cast(IdleAccounts, account_store), 0, clock).expire() == 0
    assert (await account_store.balance(ALICE)).available == 1000
