"""Leases held through MongoDB by `LeaseKeeper`s on one fake clock: one holder at a time, work
tied to the lease only while it is trusted, a dead holder replaced within the lease, a stopping
one replaced at once."""

from __future__ import annotations

from datetime import timedelta

from adapters.mongo.database import Database
from adapters.mongo.leases import MongoLeaseStore
from core.leadership import LeaseKeeper, only_while_held
from core.lease import LeaseTiming
from tests.fakes.clock import FakeClock
from tests.fakes.waiting import eventually

TIMING = LeaseTiming(15)


def keepers(db: Database, clock: FakeClock, *owners: str) -> list[LeaseKeeper]:
    store = MongoLeaseStore(db)
    return [LeaseKeeper(store, "sweeps", owner, clock, TIMING) for owner in owners]


class Roles:
    def __init__(self, keeper: LeaseKeeper) -> None:
        self.log: list[str] = []
        keeper.when_gained(self._gained)
        keeper.when_lost(self._lost)

    async def _gained(self) -> None:
        self.log.append("gained")

    async def _lost(self) -> None:
        self.log.append("lost")


async def test_one_holds_and_a_dead_holder_is_replaced_within_the_lease(
    mongo_db: Database,
) -> None:
    clock = FakeClock()
    a, b = keepers(mongo_db, clock, "a", "b")
    roles_a, roles_b = Roles(a), Roles(b)
    await a.beat()
    await b.beat()
    assert (a.held, b.held) == (True, False)
    assert (roles_a.log, roles_b.log) == (["gained"], [])
    clock.advance(TIMING.renew_every_s)
    await a.beat()  # renewed: the last sign of life
    died = clock.now()
    await b.beat()
    assert not b.held
    # b tries every retry_every_s; a's renewal runs out after `term`.
    while not b.held:
        clock.advance(TIMING.retry_every_s)
        await b.beat()
    assert clock.now() - died <= timedelta(seconds=TIMING.seconds)
    assert not a.held  # a had stopped trusting its grant before b could take it
    assert roles_b.log == ["gained"]
    await a.beat()  # a comes back: told it lost the lease, it stops its work
    assert roles_a.log == ["gained", "lost"] and not a.held
    assert a.grant is None and b.grant is not None and b.grant.token == 2


async def test_work_runs_only_while_the_lease_is_trusted(mongo_db: Database) -> None:
    clock = FakeClock()
    (a,) = keepers(mongo_db, clock, "a")
    done: list[int] = []

    async def sweep() -> int:
        done.append(1)
        return len(done)

    guarded = only_while_held(a, sweep)
    assert await guarded() is None  # not taken yet
    await a.beat()
    assert await guarded() == 1
    grant = a.grant
    assert grant is not None
    clock.advance((TIMING.trusted_until(grant) - clock.now()).total_seconds())
    assert await guarded() is None  # no renewal in time: a holder stops before it may lose
    await a.beat()  # renewed (nobody took it meanwhile)
    assert await guarded() == 2


async def test_a_released_lease_is_taken_at_the_next_try(mongo_db: Database) -> None:
    clock = FakeClock()
    a, b = keepers(mongo_db, clock, "a", "b")
    roles_a = Roles(a)
    await a.beat()
    await b.beat()
    await a.release()
    assert roles_a.log == ["gained", "lost"]  # its work stopped before the lease went
    await b.beat()  # no time passes
    assert b.held


async def test_the_heartbeat_runs_by_itself_until_released(mongo_db: Database) -> None:
    clock = FakeClock()
    a, b = keepers(mongo_db, clock, "a", "b")
    roles_b = Roles(b)

    async def a_waiting() -> bool:
        return a.held and clock.sleepers == 1

    async def both_waiting() -> bool:
        return a.held and clock.sleepers == 2

    a.start()  # alone first: started together, either might take the lease
    await eventually(a_waiting)
    b.start()
    await eventually(both_waiting)
    for _ in range(8):  # two lease lengths of renewals: a keeps it
        clock.advance(TIMING.renew_every_s)
        await eventually(both_waiting)
    assert a.held and not b.held
    await a.release()

    async def b_holds() -> bool:
        return b.held and clock.sleepers == 1

    clock.advance(TIMING.retry_every_s)
    await eventually(b_holds)
    assert roles_b.log == ["gained"]
    await b.release()
    assert roles_b.log == ["gained", "lost"]
