"""The update intake on MongoDB (core/intake.py) with two processes' intakes on one log: each
update handled once, a repeat ignored or waited out, a dead handler's update taken over, a
chat's updates in order within a process and across processes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from adapters.mongo.database import Database
from adapters.mongo.update_log import MongoUpdateLog
from core.clock import SystemClock
from core.inbound import UpdateEntry
from core.intake import Outcome, Ticket, UpdateIntake
from core.lease import LeaseTiming
from core.ports import Clock
from tests.fakes.clock import FakeClock
from tests.fakes.waiting import eventually

TIMING = LeaseTiming(15)


def intakes(db: Database, clock: Clock, *owners: str) -> list[UpdateIntake]:
    log = MongoUpdateLog(db)
    return [UpdateIntake(log, owner, clock, TIMING) for owner in owners]


def entry(seq: int, chat: str = "telegram:5") -> UpdateEntry:
    return UpdateEntry(f"telegram:1:{seq}", chat, seq, {"update_id": seq})


class Work:
    """Handlers that record what ran; `gate` holds a handler until the test opens it."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.started = asyncio.Event()

    def __call__(
        self, name: str, gate: asyncio.Event | None = None
    ) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            self.log.append(f"{name} start")
            self.started.set()
            if gate is not None:
                await gate.wait()
            self.log.append(f"{name} end")

        return run


async def test_a_repeat_of_a_handled_update_is_ignored(mongo_db: Database) -> None:
    a, b = intakes(mongo_db, SystemClock(), "a", "b")
    work = Work()
    assert await a.accept(entry(1), work("first")) is Outcome.HANDLED
    assert await a.accept(entry(1), work("again")) is Outcome.DUPLICATE
    assert await b.accept(entry(1), work("elsewhere")) is Outcome.DUPLICATE
    assert work.log == ["first start", "first end"]


async def test_a_repeat_while_another_process_handles_it_waits_then_is_ignored(
    mongo_db: Database,
) -> None:
    clock = FakeClock()
    a, b = intakes(mongo_db, clock, "a", "b")
    work, gate = Work(), asyncio.Event()
    first = asyncio.create_task(a.accept(entry(2), work("a", gate)))
    await work.started.wait()
    repeat = asyncio.create_task(b.accept(entry(2), work("b")))
    await eventually(lambda: _sleepers(clock, 2))  # a's claim renewal, b's wait
    gate.set()
    assert await first is Outcome.HANDLED
    clock.advance(1)
    assert await repeat is Outcome.DUPLICATE
    assert work.log == ["a start", "a end"]


async def test_an_update_whose_handler_died_is_taken_over_once_its_claim_runs_out(
    mongo_db: Database,
) -> None:
    clock = FakeClock()
    a, b = intakes(mongo_db, clock, "a", "b")
    assert isinstance(await a.take(entry(3), wait=False), Ticket)  # then a dies
    assert await b.take(entry(3), wait=False) is Outcome.BUSY
    work = Work()
    retry = asyncio.create_task(b.accept(entry(3), work("b")))  # Telegram posts it again
    await eventually(lambda: _sleepers(clock, 1))
    clock.advance(TIMING.term.total_seconds() + 1)
    assert await retry is Outcome.HANDLED
    assert work.log == ["b start", "b end"]


async def test_updates_left_unfinished_are_resumed_from_their_payload(
    mongo_db: Database,
) -> None:
    clock = FakeClock()
    a, b = intakes(mongo_db, clock, "a", "b")
    for seq in (4, 5):
        await a.take(entry(seq), wait=False)  # fetched and confirmed, then a died
    assert await b.resume(lambda e: Work()(str(e.payload))) == 0  # a's claims still run
    clock.advance(TIMING.term.total_seconds() + 1)
    work = Work()
    assert await b.resume(lambda e: work(f"update {e.payload['update_id']}")) == 2
    assert work.log == ["update 4 start", "update 4 end", "update 5 start", "update 5 end"]
    assert await b.accept(entry(4), work("again")) is Outcome.DUPLICATE


async def test_a_failed_handler_gives_its_claim_up(mongo_db: Database) -> None:
    (a,) = intakes(mongo_db, SystemClock(), "a")

    async def broken() -> None:
        raise RuntimeError("the database went away mid-command")

    with pytest.raises(RuntimeError):
        await a.accept(entry(6), broken)
    work = Work()
    assert await a.accept(entry(6), work("retry")) is Outcome.HANDLED  # no wait
    assert work.log == ["retry start", "retry end"]


async def test_a_chats_updates_wait_for_each_other_in_one_process(mongo_db: Database) -> None:
    (a,) = intakes(mongo_db, SystemClock(), "a")
    work, gate = Work(), asyncio.Event()
    first = await a.take(entry(7), wait=False)
    second = await a.take(entry(8), wait=False)
    other_chat = await a.take(entry(9, chat="telegram:6"), wait=False)
    assert isinstance(first, Ticket) and isinstance(second, Ticket)
    assert isinstance(other_chat, Ticket)
    one = asyncio.create_task(a.handle(first, work("7", gate)))
    two = asyncio.create_task(a.handle(second, work("8")))
    await work.started.wait()
    await a.handle(other_chat, work("9"))  # another chat does not wait
    assert work.log == ["7 start", "9 start", "9 end"]
    gate.set()
    await asyncio.gather(one, two)
    assert work.log[3:] == ["7 end", "8 start", "8 end"]


async def test_a_chats_later_update_waits_for_an_earlier_one_elsewhere(
    mongo_db: Database,
) -> None:
    clock = FakeClock()
    a, b = intakes(mongo_db, clock, "a", "b")
    work, gate = Work(), asyncio.Event()
    first = asyncio.create_task(a.accept(entry(10), work("a: 10", gate)))
    await work.started.wait()
    later = asyncio.create_task(b.accept(entry(11), work("b: 11")))
    await eventually(lambda: _sleepers(clock, 2))  # a's renewal, b waiting for update 10
    assert work.log == ["a: 10 start"]
    gate.set()
    await first
    clock.advance(1)
    assert await later is Outcome.HANDLED
    assert work.log == ["a: 10 start", "a: 10 end", "b: 11 start", "b: 11 end"]


async def test_an_earlier_update_is_waited_for_only_as_long_as_allowed(
    mongo_db: Database,
) -> None:
    """A slow handler elsewhere (alive, renewing) holds a chat's later update up only so long:
    then it is handled anyway, rather than the webhook stall."""
    clock = FakeClock()
    log = MongoUpdateLog(mongo_db)
    a = UpdateIntake(log, "a", clock, TIMING)
    b = UpdateIntake(log, "b", clock, TIMING, max_wait_s=2)
    work, gate = Work(), asyncio.Event()
    first = asyncio.create_task(a.accept(entry(12), work("a", gate)))
    await work.started.wait()
    later = asyncio.create_task(b.accept(entry(13), work("b")))
    await eventually(lambda: _sleepers(clock, 2))
    clock.advance(2.5)
    assert await later is Outcome.HANDLED
    assert work.log == ["a start", "b start", "b end"]
    gate.set()
    await first


async def _sleepers(clock: FakeClock, count: int) -> bool:
    return clock.sleepers >= count
