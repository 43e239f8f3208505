"""Credits end to end: a run's quote is held when it is admitted, and its end settles the actual
GPU time at the same price (never more than was held) or refunds it, exactly once, whatever
the webhooks and processes do. Defaults: CREDIT_USD 0.01, PRICE_MULTIPLIER 1, so a run's price
in hundredths of a credit is its cost in USD x 10,000, rounded up."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from core.credits import format_credits
from core.ledger import LedgerKind
from core.models import ChatRef, EventSource, Run, RunEvent, RunStatus
from tests.e2e.harness import Engine, World, world

ALICE = ChatRef(platform="console", chat_id="lab", user_id="alice", user_name="Alice")
BOB = ChatRef(platform="console", chat_id="lab", user_id="bob", user_name="Bob")
START = 1000  # NEW_USER_CREDITS=10
CENTS_PER_USD = 10_000


async def balance_of(bot: Engine, who: ChatRef) -> tuple[int, int]:
    balance = await bot.container.accounts.balance(who.user_key)
    return balance.available, balance.reserved


async def run_for(w: World, bot: Engine, line: str, who: ChatRef = ALICE) -> Run:
    w.clock.advance(1)  # each run its own creation time, so the latest is the last one
    assert await bot.say(line, who=who) is None
    run = await bot.last_run()
    assert run.chat.user_key == who.user_key and run.backend_run_id is not None
    return run


async def finish_after(w: World, bot: Engine, run: Run, seconds: float) -> Run:
    """The backend queues the run, then ends it `seconds` of (fake) time later."""
    assert run.backend_run_id is not None
    await w.sim.advance(run.backend_run_id)
    w.clock.advance(seconds)
    await w.sim.finish(run.backend_run_id)
    await bot.settle()
    ended = await bot.container.runs_store.get(run.id)
    assert ended is not None and ended.status.terminal
    return ended


async def kinds(bot: Engine, who: ChatRef) -> list[LedgerKind]:
    return [e.kind for e in reversed(await bot.container.accounts.statement(who.user_key, 50))]


async def test_the_quote_is_held_and_the_gpu_time_charged(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        world(mongo_uri, tmp_path, shared_clock=True, new_user_credits=10.0) as w,
        w.engine() as bot,
    ):
        run = await run_for(w, bot, "/txt2img a fox width=32 height=32")
        assert run.credits is not None and run.rate_usd_per_s
        # 60 expected seconds (no history yet) at the deployment's rate, held x1.5.
        quoted = math.ceil(round(60 * run.rate_usd_per_s * CENTS_PER_USD, 6))
        assert (run.credits.quoted, run.credits.held) == (quoted, math.ceil(quoted * 1.5))
        assert await balance_of(bot, ALICE) == (START - run.credits.held, run.credits.held)

        ended = await finish_after(w, bot, run, 40)
        assert ended.status is RunStatus.SUCCESS and ended.duration_s == 40
        charge = math.ceil(round(40 * run.rate_usd_per_s * CENTS_PER_USD, 6))
        assert 0 < charge < run.credits.held
        assert await balance_of(bot, ALICE) == (START - charge, 0)
        left = format_credits(START - charge)
        assert f"💰 {format_credits(charge)} credits · {left} left" in bot.seen()
        assert await kinds(bot, ALICE) == [
            LedgerKind.WELCOME,
            LedgerKind.RESERVE,
            LedgerKind.SETTLE,
        ]

        reply = await bot.say("/balance", who=ALICE)
        assert reply is not None and f"You have {left} credits" in reply.text
        usage = await bot.say("/usage", who=ALICE)
        assert usage is not None and f"{format_credits(charge)} credits" in usage.text

        # The next quote comes from this run's history: 40 s, not the default 60.
        second = await run_for(w, bot, "/txt2img another fox width=32 height=32")
        assert second.credits is not None and second.credits.quoted == charge


async def test_a_run_longer_than_its_hold_is_charged_the_hold(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path, shared_clock=True) as w, w.engine() as bot:
        run = await run_for(w, bot, "/txt2img a slow fox width=32 height=32")
        assert run.credits is not None
        await finish_after(w, bot, run, 600)  # ten times what was expected
        assert await balance_of(bot, ALICE) == (100_000 - run.credits.held, 0)


async def test_failed_cancelled_and_timed_out_runs_are_refunded(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path, shared_clock=True) as w, w.engine() as bot:
        failed = await run_for(w, bot, "/txt2img a FAIL fox width=32 height=32")
        timed_out = await run_for(w, bot, "/txt2img a TIMEOUT fox width=32 height=32")
        cancelled = await run_for(w, bot, "/txt2img a fox width=32 height=32")
        held = sum(r.credits.held for r in (failed, timed_out, cancelled) if r.credits)
        assert await balance_of(bot, ALICE) == (100_000 - held, held)

        assert (await finish_after(w, bot, failed, 20)).status is RunStatus.FAILED
        assert (await finish_after(w, bot, timed_out, 20)).status is RunStatus.TIMEOUT
        reply = await bot.say(f"/cancel {cancelled.id}", who=ALICE)
        assert reply is not None and "Cancelled" in reply.text
        await w.sim.drain_webhooks()
        await bot.settle()
        assert await balance_of(bot, ALICE) == (100_000, 0)  # every credit back
        settled = [e for e in await bot.container.accounts.statement(ALICE.user_key, 50)]
        assert [e.available for e in settled if e.kind is LedgerKind.SETTLE] == [
            r.credits.held for r in (cancelled, timed_out, failed) if r.credits
        ]


@pytest.mark.parametrize(
    "status", [RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.TIMEOUT, RunStatus.CANCELLED]
)
async def test_duplicate_late_webhooks_and_two_processes_settle_once(
    mongo_uri: str, tmp_path: Path, status: RunStatus
) -> None:
    async with (
        world(mongo_uri, tmp_path, shared_clock=True) as w,
        w.engine() as one,
        w.engine(http=False) as two,
    ):
        run = await run_for(w, one, "/txt2img a fox width=32 height=32")
        assert run.backend_run_id is not None and run.credits is not None
        await w.sim.advance(run.backend_run_id)
        w.clock.advance(30)
        end = RunEvent(
            backend_run_id=run.backend_run_id,
            status=status,
            source=EventSource.WEBHOOK,
            ended_at=w.clock.now(),
            error=None if status is RunStatus.SUCCESS else "the backend's words",
        )
        # The same end reaches both processes at once, and then again, late.
        applied = await asyncio.gather(
            *(bot.container.tracker.apply(run.id, end) for bot in (one, two, one, two))
        )
        assert applied.count(True) == 1
        await w.sim.finish(run.backend_run_id)  # the backend's own webhooks, late
        await one.container.tracker.apply(run.id, end)
        for bot in (one, two):
            await bot.settle()
            await bot.container.queue.repair()
        ended = await one.container.runs_store.get(run.id)
        assert ended is not None and ended.status is status and ended.cost_usd is not None
        charge = math.ceil(round(ended.cost_usd * CENTS_PER_USD, 6))
        if status is not RunStatus.SUCCESS:
            charge = 0  # CHARGE_FAILED_RUNS=false: all of the hold back
        assert await balance_of(one, ALICE) == (100_000 - charge, 0)
        settled = [
            e
            for e in await one.container.accounts.statement(ALICE.user_key, 50)
            if e.kind is LedgerKind.SETTLE
        ]
        assert [(e.available, e.reserved) for e in settled] == [
            (run.credits.held - charge, -run.credits.held)
        ]


async def test_without_enough_credits_nothing_is_queued(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path, new_user_credits=1.0) as w, w.engine() as bot:
        reply = await bot.say("/txt2img a fox width=32 height=32", who=ALICE)
        assert reply is not None and reply.text.startswith("Not enough credits")
        assert "you have 1.00" in reply.text and "ask an admin for more" in reply.text
        assert await bot.container.runs_store.recent(5) == []
        assert not w.sim.runs.all()
        assert await balance_of(bot, ALICE) == (100, 0)

        granted = await bot.say(f"/grant {ALICE.user_key} 5")  # the console user is an admin
        assert granted is not None and "got 5.00 credits and has 6.00" in granted.text
        assert await bot.say("/txt2img a fox width=32 height=32", who=ALICE) is None


async def test_credits_off_charge_nothing_but_costs_are_recorded(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        world(mongo_uri, tmp_path, shared_clock=True, credits_enabled=False) as w,
        w.engine() as bot,
    ):
        run = await run_for(w, bot, "/txt2img a fox width=32 height=32")
        assert run.credits is None
        ended = await finish_after(w, bot, run, 30)
        assert ended.cost_usd is not None and ended.cost_usd > 0
        assert await balance_of(bot, ALICE) == (100_000, 0)
        assert "💰 $" in bot.seen()
        reply = await bot.say("/balance", who=ALICE)
        assert reply is not None and "cost no credits" in reply.text


async def test_a_rerun_is_charged_to_whoever_pressed_it(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path, shared_clock=True) as w, w.engine() as bot:
        original = await run_for(w, bot, "/txt2img a fox width=32 height=32")
        await finish_after(w, bot, original, 10)
        alice_after = await balance_of(bot, ALICE)
        assert await bot.say(f"/rerun {original.id}", who=BOB) is None  # in the same chat
        again = await bot.last_run()
        assert again.rerun_of == original.id and again.chat.user_key == BOB.user_key
        assert again.credits is not None
        assert await balance_of(bot, BOB) == (100_000 - again.credits.held, again.credits.held)
        assert await balance_of(bot, ALICE) == alice_after


async def test_a_hundred_commands_at_once_against_credits_for_ten(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path, new_user_credits=0.0) as w, w.engine() as bot:
        await bot.say("/balance", who=BOB)
        await bot.say(f"/grant {BOB.user_key} 100")
        probe = await run_for(w, bot, "/txt2img a probe width=32 height=32", who=BOB)
        assert probe.credits is not None and probe.credits.held > 0
        held = probe.credits.held  # Alice's runs are quoted the same (no history yet)
        await bot.say("/balance", who=ALICE)
        granted = await bot.say(f"/grant {ALICE.user_key} {format_credits(10 * held)}")
        assert granted is not None and "got" in granted.text

        lines = [f"/txt2img fox {n} width=32 height=32" for n in range(100)]
        replies = await asyncio.gather(*(bot.front.say(line, ALICE) for line in lines))
        await bot.settle()
        refused = [r for r in replies if r is not None]
        assert len(refused) == 90
        assert all(r.text.startswith("Not enough credits") for r in refused)
        runs = [r for r in await bot.container.runs_store.recent(200) if r.chat == ALICE]
        assert len(runs) == 10 and all(r.credits and r.credits.held == held for r in runs)
        assert await balance_of(bot, ALICE) == (0, 10 * held)
        entries = await bot.container.accounts.statement(ALICE.user_key, 200)
        assert sum(e.available for e in entries) == 0
        assert sum(e.reserved for e in entries) == 10 * held
        assert [e.kind for e in entries].count(LedgerKind.RESERVE) == 10


async def test_a_run_the_bot_timed_out_itself_is_refunded(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path, shared_clock=True) as w, w.engine() as bot:
        run = await run_for(w, bot, "/txt2img a stuck fox width=32 height=32")
        assert run.backend_run_id is not None and run.credits is not None
        await w.sim.advance(run.backend_run_id)  # running, and never heard of again
        w.clock.advance(w.settings.run_timeout_seconds + 1)
        assert await bot.container.watch.expire_overdue() == 1
        await bot.settle()
        ended = await bot.container.runs_store.get(run.id)
        assert ended is not None and ended.status is RunStatus.TIMEOUT
        assert await balance_of(bot, ALICE) == (100_000, 0)
        settled = [
            e
            for e in await bot.container.accounts.statement(ALICE.user_key, 50)
            if e.kind is LedgerKind.SETTLE
        ]
        held = run.credits.held
        assert [(e.available, e.reserved) for e in settled] == [(held, -held)]


@pytest.mark.parametrize(("multiplier", "credit_usd"), [(2.0, 0.02), (3.0, 0.01)])
async def test_prices_follow_the_multiplier_the_credit_value_and_the_reserve_factor(
    mongo_uri: str, tmp_path: Path, multiplier: float, credit_usd: float
) -> None:
    pricing = {
        "price_multiplier": multiplier,
        "credit_usd": credit_usd,
        "max_reserve_factor": 2.0,
        "charge_failed_runs": True,
    }
    cents_per_usd = multiplier / credit_usd * 100
    async with world(mongo_uri, tmp_path, shared_clock=True, **pricing) as w, w.engine() as bot:
        run = await run_for(w, bot, "/txt2img a fox width=32 height=32")
        assert run.credits is not None and run.rate_usd_per_s
        quoted = math.ceil(round(60 * run.rate_usd_per_s * cents_per_usd, 6))
        assert (run.credits.quoted, run.credits.held) == (quoted, 2 * quoted)
        assert await balance_of(bot, ALICE) == (100_000 - 2 * quoted, 2 * quoted)

        await finish_after(w, bot, run, 40)
        charged = math.ceil(round(40 * run.rate_usd_per_s * cents_per_usd, 6))
        assert await balance_of(bot, ALICE) == (100_000 - charged, 0)

        failed = await run_for(w, bot, "/txt2img a FAIL fox width=32 height=32")
        assert failed.credits is not None
        ended = await finish_after(w, bot, failed, 20)
        assert ended.status is RunStatus.FAILED and ended.cost_usd is not None
        assert ended.cost_usd == pytest.approx(20 * run.rate_usd_per_s)
        failed_charge = math.ceil(round(ended.cost_usd * cents_per_usd, 6))
        assert 0 < failed_charge < failed.credits.held  # CHARGE_FAILED_RUNS: its GPU time
        assert await balance_of(bot, ALICE) == (100_000 - charged - failed_charge, 0)
        assert f"💰 {format_credits(failed_charge)} credits" in bot.seen()


async def test_the_catalogs_expected_seconds_is_the_quote(mongo_uri: str, tmp_path: Path) -> None:
    catalog = tmp_path / "priced.catalog.yaml"
    catalog.write_text("workflows:\n  txt2img:\n    expected_seconds: 25\n")
    async with (
        world(mongo_uri, tmp_path, shared_clock=True, catalog_file=catalog) as w,
        w.engine() as bot,
    ):
        run = await run_for(w, bot, "/txt2img a fox width=32 height=32")
        assert run.credits is not None and run.rate_usd_per_s
        quoted = math.ceil(round(25 * run.rate_usd_per_s * CENTS_PER_USD, 6))
        assert run.credits.quoted == quoted  # 25 s, not the default 60
        await finish_after(w, bot, run, 40)
        # A history of 40 s does not override what the catalog declares.
        second = await run_for(w, bot, "/txt2img another fox width=32 height=32")
        assert second.credits is not None and second.credits.quoted == quoted


async def test_balance_shows_what_is_held_while_a_run_goes(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path, shared_clock=True) as w, w.engine() as bot:
        run = await run_for(w, bot, "/txt2img a fox width=32 height=32")
        assert run.credits is not None
        held = format_credits(run.credits.held)
        going = await bot.say("/balance", who=ALICE)
        assert going is not None
        assert f"You have {format_credits(100_000 - run.credits.held)} credits" in going.text
        assert f"⏳ {held} more are held for runs still going." in going.text
        assert f"-{held} held for run {run.id}" in going.text

        await finish_after(w, bot, run, 30)
        done = await bot.say("/balance", who=ALICE)
        assert done is not None and "held for runs still going" not in done.text


async def test_unused_credits_expire_after_credit_expiry_days(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path, credit_expiry_days=30) as w, w.engine() as bot:
        assert "expire idle credits" in [job.name for job in bot.container.jobs()]
        await bot.say("/balance", who=ALICE)
        w.clock.advance(30 * 86_400 - 1)
        assert await bot.container.credit_expiry.expire() == 0
        w.clock.advance(2)
        assert await bot.container.credit_expiry.expire() == 1
        assert await bot.container.credit_expiry.expire() == 0
        assert await balance_of(bot, ALICE) == (0, 0)
        reply = await bot.say("/balance", who=ALICE)
        assert reply is not None and "You have 0.00 credits" in reply.text
        assert "-1000.00 credits expired (unused)" in reply.text
