"""What a process killed mid-run leaves in the accounts is repaired by whoever runs the sweeps:
an end whose settlement was cut off within seconds (settling is conditional), a slot taken for
a run that had already ended (a pump working from a stale view) a minute later (or after
QUEUE_REPAIR_AFTER_SECONDS)."""

from __future__ import annotations

from pathlib import Path

from core.fair_queue import REPAIR_AFTER, SETTLE_AFTER
from core.ledger import LedgerKind
from core.models import EventSource, RunEvent, RunStatus
from tests.e2e.harness import world
from tests.e2e.test_credits import ALICE, balance_of, kinds, run_for

LINE = "/txt2img a fox width=32 height=32"


async def test_an_end_recorded_by_a_process_that_died_before_settling_is_settled_soon(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path, shared_clock=True) as w, w.engine() as bot:
        run = await run_for(w, bot, LINE)
        assert run.backend_run_id is not None and run.credits is not None
        w.clock.advance(20)
        end = RunEvent(
            backend_run_id=run.backend_run_id,
            status=RunStatus.SUCCESS,
            source=EventSource.WEBHOOK,
            ended_at=w.clock.now(),
        )
        # The end is recorded (and its delivery claimed), then the process is gone.
        container = bot.container
        assert await container.runs_store.apply_event(run.id, end, w.clock.now(), None)
        held = await balance_of(bot, ALICE)
        assert held[1] == run.credits.held
        assert await container.queue.repair() == 0  # moments after: its process may settle
        w.clock.advance(SETTLE_AFTER.total_seconds() + 1)
        assert await container.queue.repair() == 1
        assert await container.queue.repair() == 0  # once
        available, reserved = await balance_of(bot, ALICE)
        assert reserved == 0 and available < held[0] + held[1]
        assert (await kinds(bot, ALICE)).count(LedgerKind.SETTLE) == 1
        assert await container.accounts.running_counts({ALICE.user_key}) == {ALICE.user_key: 0}


async def test_a_slot_taken_for_a_run_that_had_ended_is_given_back(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path, shared_clock=True) as w, w.engine() as bot:
        run = await run_for(w, bot, LINE)
        assert run.backend_run_id is not None
        await w.sim.finish(run.backend_run_id)
        await bot.settle()
        accounts = bot.container.accounts
        # A pump that read the run as waiting takes its slot after it ended, then dies.
        assert await accounts.take_slot(ALICE.user_key, run.id, 2, w.clock.now())
        assert await accounts.running_counts({ALICE.user_key}) == {ALICE.user_key: 1}
        assert await bot.container.queue.repair() == 0  # a live pump gives it back itself
        w.clock.advance(REPAIR_AFTER.total_seconds() + 1)
        assert await bot.container.queue.repair() == 1
        assert await accounts.running_counts({ALICE.user_key}) == {ALICE.user_key: 0}


async def test_queue_repair_after_seconds_sets_when_a_left_slot_is_given_back(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        world(mongo_uri, tmp_path, shared_clock=True, queue_repair_after_seconds=5) as w,
        w.engine() as bot,
    ):
        run = await run_for(w, bot, LINE)
        assert run.backend_run_id is not None
        await w.sim.finish(run.backend_run_id)
        await bot.settle()
        accounts = bot.container.accounts
        assert await accounts.take_slot(ALICE.user_key, run.id, 2, w.clock.now())
        w.clock.advance(4)
        assert await bot.container.queue.repair() == 0  # not yet 5 s old
        w.clock.advance(2)
        assert await bot.container.queue.repair() == 1
        assert await accounts.running_counts({ALICE.user_key}) == {ALICE.user_key: 0}
