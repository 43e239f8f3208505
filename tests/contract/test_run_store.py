"""RunStore contract: monotonic state, exactly-once delivery claims, queries."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from core.journal import Claim
from core.models import ChatRef, DeliveryState, EventSource, PartState, Run, RunEvent, RunStatus
from core.ports import RunStore
from tests.contract.runs_data import NOW, SECOND, event, image, make_run, submission


async def submitted(store: RunStore, backend_run_id: str = "b-1") -> Run:
    run = make_run()
    await store.insert(run)
    assert await store.mark_submitted(run.id, submission(backend_run_id, NOW + 10 * SECOND))
    got = await store.get(run.id)
    assert got is not None
    return got


async def finished(store: RunStore, backend_run_id: str = "b-1") -> Run:
    run = await submitted(store, backend_run_id)
    done = event(RunStatus.SUCCESS, 1.0, backend_run_id)
    assert await store.apply_event(run.id, done, NOW, None)
    return run


async def test_insert_and_get_round_trip(run_store: RunStore) -> None:
    run = make_run(outputs=(image(1),), gpu="A10G", rerun_of="abc")
    await run_store.insert(run)
    assert await run_store.get(run.id) == run
    assert await run_store.get("missing") is None


async def test_one_run_per_origin(run_store: RunStore) -> None:
    first = make_run(origin="telegram:42:7")
    again = make_run(origin="telegram:42:7")
    assert await run_store.insert(first)
    assert not await run_store.insert(again)  # the same message delivered twice
    assert await run_store.get(again.id) is None
    assert await run_store.by_origin("telegram:42:7") == first
    assert await run_store.by_origin("telegram:42:8") is None
    assert await run_store.insert(make_run()) and await run_store.insert(make_run())


async def test_racing_inserts_of_one_origin_make_one_run(run_store: RunStore) -> None:
    runs = [make_run(origin="telegram:press:99") for _ in range(5)]
    taken = await asyncio.gather(*(run_store.insert(run) for run in runs))
    assert sorted(taken) == [False, False, False, False, True]
    kept = await run_store.by_origin("telegram:press:99")
    assert kept == runs[taken.index(True)]


async def test_mark_submitted_only_once(run_store: RunStore) -> None:
    run = make_run()
    await run_store.insert(run)
    assert await run_store.mark_submitted(run.id, submission("b-1", NOW + SECOND))
    assert not await run_store.mark_submitted(run.id, submission("b-2", NOW + SECOND))
    got = await run_store.get(run.id)
    assert got is not None
    assert got.status is RunStatus.NOT_STARTED
    assert (got.backend_run_id, got.submitted_at, got.next_poll_at) == ("b-1", NOW, NOW + SECOND)
    assert (got.deployment_id, got.gpu, got.rate_usd_per_s) == ("dep-2", "A10G", 0.0005)


async def test_progress_moves_forward_only(run_store: RunStore) -> None:
    run = await submitted(run_store)
    later = NOW + SECOND
    assert await run_store.apply_event(
        run.id, event(RunStatus.QUEUED, queue_position=3), NOW, None
    )
    assert await run_store.apply_event(
        run.id, event(RunStatus.QUEUED, queue_position=1), NOW, None
    )
    assert not await run_store.apply_event(
        run.id, event(RunStatus.QUEUED, queue_position=2), NOW, None
    )
    assert await run_store.apply_event(
        run.id,
        event(RunStatus.RUNNING, 0.2, live_status="Executing KSampler"),
        later,
        None,
    )
    poll = later + 30 * SECOND
    assert await run_store.apply_event(run.id, event(RunStatus.RUNNING, 0.5), later, poll)
    assert not await run_store.apply_event(run.id, event(RunStatus.RUNNING, 0.5), later, NOW)
    assert not await run_store.apply_event(run.id, event(RunStatus.RUNNING, 0.3), later, None)
    assert not await run_store.apply_event(run.id, event(RunStatus.QUEUED), later, None)
    got = await run_store.get(run.id)
    assert got is not None
    assert (got.status, got.progress, got.queue_position) == (RunStatus.RUNNING, 0.5, None)
    assert got.next_poll_at == poll
    assert (got.live_status, got.last_event_at, got.updated_at) == (
        "Executing KSampler",
        later,
        later,
    )
    assert got.delivery is DeliveryState.NONE


async def test_terminal_is_final(run_store: RunStore) -> None:
    run = await submitted(run_store)
    ended = NOW + 30 * SECOND
    success = event(RunStatus.SUCCESS, 1.0, outputs=(image(1), image(2)), ended_at=ended)
    assert await run_store.apply_event(run.id, success, NOW + 40 * SECOND, None)
    assert not await run_store.apply_event(run.id, success, NOW + 50 * SECOND, None)
    late = (
        event(RunStatus.RUNNING, 0.9),
        event(RunStatus.FAILED, error="boom"),
        event(RunStatus.SUCCESS, 1.0, outputs=(image(1), image(2), image(3))),
    )
    for ev in late:
        assert not await run_store.apply_event(run.id, ev, NOW + 60 * SECOND, None)
    got = await run_store.get(run.id)
    assert got is not None
    assert got.status is RunStatus.SUCCESS
    assert got.error is None
    assert got.outputs == (image(1), image(2))
    assert (got.ended_at, got.updated_at, got.next_poll_at) == (ended, NOW + 40 * SECOND, None)
    assert (got.delivery, got.delivery_due_at) == (DeliveryState.PENDING, NOW + 40 * SECOND)


async def test_terminal_without_times_ends_now(run_store: RunStore) -> None:
    run = await submitted(run_store)
    ev = event(RunStatus.FAILED, error="OOM", gpu="T4", started_at=NOW + SECOND)
    assert await run_store.apply_event(run.id, ev, NOW + 5 * SECOND, None)
    got = await run_store.get(run.id)
    assert got is not None
    assert (got.status, got.error, got.gpu) == (RunStatus.FAILED, "OOM", "T4")
    assert (got.started_at, got.ended_at) == (NOW + SECOND, NOW + 5 * SECOND)
    assert got.duration_s == 4.0


async def test_outputs_grow_and_are_kept(run_store: RunStore) -> None:
    run = await submitted(run_store)
    two = (image(1), image(2))
    assert await run_store.apply_event(
        run.id, event(RunStatus.RUNNING, 0.5, outputs=two), NOW, None
    )
    # Same status and progress, but a new output: still a change.
    assert await run_store.apply_event(
        run.id,
        event(RunStatus.RUNNING, 0.5, outputs=(*two, image(3))),
        NOW,
        None,
    )
    # A later event that carries fewer outputs keeps the stored ones.
    assert await run_store.apply_event(run.id, event(RunStatus.SUCCESS, 1.0), NOW, None)
    got = await run_store.get(run.id)
    assert got is not None
    assert got.outputs == (*two, image(3))


async def test_finish_delivery_keeps_cost_and_progress_message(run_store: RunStore) -> None:
    run = await finished(run_store)
    cost = (await run_store.get(run.id) or run).cost_usd
    await run_store.set_progress_message(run.id, "m-9")
    claim = Claim.new(NOW + 60 * SECOND)
    assert await run_store.claim_delivery(run.id, NOW, claim)
    assert await run_store.finish_delivery(run.id, claim.owner, NOW)
    got = await run_store.get(run.id)
    assert got is not None
    assert (got.cost_usd, got.progress_message_id) == (cost, "m-9")
    assert got.delivery is DeliveryState.DELIVERED


def at(seconds: float) -> datetime:
    return NOW + seconds * SECOND


COSTED_ENDS = [
    # (stored before the end, the terminal event's times, recorded at, expected cost)
    ({"queued_at": at(2), "started_at": at(30)}, {"ended_at": at(102)}, at(200), 0.05),
    ({}, {"queued_at": at(2), "started_at": at(30), "ended_at": at(102)}, at(200), 0.05),
    ({"started_at": at(10)}, {"ended_at": at(20)}, at(200), 0.005),
    ({}, {}, at(20), 0.01),  # only submitted (at 0) and recorded now: 20 s
    ({"queued_at": at(10)}, {"ended_at": at(5)}, at(200), 0.0),  # clock skew: never negative
]


@pytest.mark.parametrize(("stored", "times", "recorded", "cost"), COSTED_ENDS)
async def test_the_end_of_a_run_records_its_cost(
    run_store: RunStore,
    stored: dict[str, datetime],
    times: dict[str, datetime],
    recorded: datetime,
    cost: float,
) -> None:
    run = await submitted(run_store)  # rate 0.0005 USD/s, submitted at NOW
    if stored:
        early = event(RunStatus.QUEUED, **stored)
        assert await run_store.apply_event(run.id, early, NOW, None)
    done = event(RunStatus.SUCCESS, 1.0, **times)
    assert await run_store.apply_event(run.id, done, recorded, None)
    got = await run_store.get(run.id)
    assert got is not None
    assert got.cost_usd == pytest.approx(cost, abs=1e-9)
    assert got.delivery is DeliveryState.PENDING  # costed before anything is delivered


async def test_a_run_without_a_rate_has_no_cost(run_store: RunStore) -> None:
    run = make_run()
    await run_store.insert(run)
    free = submission("b-1", NOW).model_copy(update={"rate_usd_per_s": None})
    assert await run_store.mark_submitted(run.id, free)
    assert await run_store.apply_event(run.id, event(RunStatus.FAILED, error="$x {y}"), NOW, None)
    got = await run_store.get(run.id)
    assert got is not None
    assert (got.cost_usd, got.error) == (None, "$x {y}")


def lease(seconds: float) -> Claim:
    return Claim.new(NOW + seconds * SECOND)


ALL = ("telegram", "discord")


async def test_claim_delivery_exactly_once_under_race(run_store: RunStore) -> None:
    run = await finished(run_store)
    claims = [lease(60) for _ in range(3)]
    won = await asyncio.gather(*(run_store.claim_delivery(run.id, NOW, c) for c in claims))
    assert sorted(won) == [False, False, True]
    got = await run_store.get(run.id)
    assert got is not None
    assert got.delivery is DeliveryState.CLAIMED


async def test_claim_waits_for_due_time_and_needs_a_finished_run(run_store: RunStore) -> None:
    unfinished = await submitted(run_store, "b-1")
    assert not await run_store.claim_delivery(unfinished.id, NOW, lease(1))
    run = await finished(run_store, "b-2")
    assert not await run_store.claim_delivery(run.id, NOW - SECOND, lease(1))
    assert await run_store.claim_delivery(run.id, NOW, lease(1))


async def test_expired_lease_lets_another_claimer_in(run_store: RunStore) -> None:
    run = await finished(run_store)
    first = lease(60)
    assert await run_store.claim_delivery(run.id, NOW, first)
    assert not await run_store.claim_delivery(run.id, first.until, lease(120))
    assert await run_store.deliveries_due(first.until, 10, ALL) == []
    after = first.until + SECOND
    assert [r.id for r in await run_store.deliveries_due(after, 10, ALL)] == [run.id]
    second = Claim.new(after + 60 * SECOND)
    assert await run_store.claim_delivery(run.id, after, second)
    assert await run_store.finish_delivery(run.id, second.owner, after)
    assert not await run_store.claim_delivery(run.id, NOW + 3600 * SECOND, lease(3660))
    got = await run_store.get(run.id)
    assert got is not None
    assert (got.delivery, got.delivered_at) == (DeliveryState.DELIVERED, after)
    assert await run_store.deliveries_due(NOW + 3600 * SECOND, 10, ALL) == []


async def test_only_the_owner_of_a_claim_can_change_it(run_store: RunStore) -> None:
    run = await finished(run_store)
    stale = lease(60)
    assert await run_store.claim_delivery(run.id, NOW, stale)
    later = NOW + 61 * SECOND
    taker = Claim.new(later + 60 * SECOND)
    assert await run_store.claim_delivery(run.id, later, taker)  # the first lease ran out
    assert not await run_store.renew_claim(run.id, Claim(stale.owner, later + 600 * SECOND))
    assert not await run_store.set_part(run.id, stale.owner, "photos-0", PartState.SENDING)
    assert not await run_store.finish_delivery(run.id, stale.owner, later)
    assert not await run_store.retry_delivery(run.id, stale.owner, later)
    got = await run_store.get(run.id)
    assert got is not None
    assert (got.delivery, got.delivery_parts) == (DeliveryState.CLAIMED, {})
    assert await run_store.renew_claim(run.id, Claim(taker.owner, later + 600 * SECOND))
    assert not await run_store.claim_delivery(run.id, later + 300 * SECOND, lease(900))


async def test_parts_sent_are_kept_for_whoever_delivers_next(run_store: RunStore) -> None:
    run = await finished(run_store)
    first = lease(60)
    assert await run_store.claim_delivery(run.id, NOW, first)
    assert await run_store.set_part(run.id, first.owner, "photos-0", PartState.SENDING)
    assert await run_store.set_part(run.id, first.owner, "photos-0", PartState.SENT)
    assert await run_store.set_part(run.id, first.owner, "file.1", PartState.SENDING)
    assert await run_store.set_part(run.id, first.owner, "text", PartState.SENDING)
    assert await run_store.set_part(run.id, first.owner, "text", None)
    assert await run_store.retry_delivery(run.id, first.owner, NOW)
    got = await run_store.get(run.id)
    assert got is not None
    assert got.delivery_parts == {"photos-0": PartState.SENT, "file_1": PartState.SENDING}
    assert got.delivery_attempts == 1


async def test_retry_delivery_then_abandon(run_store: RunStore) -> None:
    run = await finished(run_store)
    first = lease(60)
    assert await run_store.claim_delivery(run.id, NOW, first)
    retry_at = NOW + 30 * SECOND
    assert await run_store.retry_delivery(run.id, first.owner, retry_at)
    got = await run_store.get(run.id)
    assert got is not None
    assert (got.delivery, got.delivery_attempts, got.delivery_due_at) == (
        DeliveryState.PENDING,
        1,
        retry_at,
    )
    assert not await run_store.claim_delivery(run.id, retry_at - SECOND, lease(90))
    assert await run_store.deliveries_due(retry_at - SECOND, 10, ALL) == []
    second = lease(120)
    assert await run_store.claim_delivery(run.id, retry_at, second)
    assert await run_store.retry_delivery(run.id, second.owner, retry_at, count=False)
    third = lease(120)
    assert await run_store.claim_delivery(run.id, retry_at, third)
    assert await run_store.retry_delivery(run.id, third.owner, None)
    got = await run_store.get(run.id)
    assert got is not None
    assert (got.delivery, got.delivery_attempts) == (DeliveryState.ABANDONED, 2)
    assert not await run_store.claim_delivery(run.id, NOW + 3600 * SECOND, lease(3660))


async def ended_on(store: RunStore, platform: str, backend_run_id: str) -> Run:
    run = make_run(chat=ChatRef(platform=platform, chat_id="1", user_id="1"))
    await store.insert(run)
    assert await store.mark_submitted(run.id, submission(backend_run_id, NOW))
    assert await store.apply_event(
        run.id, event(RunStatus.SUCCESS, 1.0, backend_run_id), NOW, None
    )
    return run


async def test_owed_deliveries_are_listed_per_platform(run_store: RunStore) -> None:
    console = [await ended_on(run_store, "console", f"c-{i}") for i in range(3)]
    mine = await ended_on(run_store, "telegram", "t-1")
    due = await run_store.deliveries_due(NOW, 2, ["telegram"])
    assert [r.id for r in due] == [mine.id]  # never crowded out by other platforms' runs
    others = await run_store.deliveries_due(NOW, 10, ["console", "discord"])
    assert {r.id for r in others} == {r.id for r in console}


async def test_redeliver_makes_a_settled_delivery_due_again(run_store: RunStore) -> None:
    run = await finished(run_store)
    claim = lease(60)
    assert await run_store.claim_delivery(run.id, NOW, claim)
    assert not await run_store.redeliver(run.id, NOW, fresh=False)  # being delivered now
    assert await run_store.set_part(run.id, claim.owner, "photos-0", PartState.SENT)
    assert await run_store.retry_delivery(run.id, claim.owner, None)
    later = NOW + 100 * SECOND
    assert await run_store.redeliver(run.id, later, fresh=False)
    got = await run_store.get(run.id)
    assert got is not None
    assert (got.delivery, got.delivery_due_at) == (DeliveryState.PENDING, later)
    assert got.delivery_parts == {"photos-0": PartState.SENT}
    assert await run_store.redeliver(run.id, later, fresh=True)
    assert (await run_store.get(run.id) or run).delivery_parts == {}
    unfinished = await submitted(run_store, "b-9")
    assert not await run_store.redeliver(unfinished.id, later, fresh=True)


async def test_is_finished(run_store: RunStore) -> None:
    running = await submitted(run_store, "b-1")
    done = await finished(run_store, "b-2")
    assert not await run_store.is_finished(running.id)
    assert await run_store.is_finished(done.id)
    assert not await run_store.is_finished("missing")


async def test_a_run_ended_during_its_submit_still_records_its_backend_id(
    run_store: RunStore,
) -> None:
    run = make_run()
    await run_store.insert(run)
    cancel = RunEvent(backend_run_id="", status=RunStatus.CANCELLED, source=EventSource.CANCEL)
    assert await run_store.apply_event(run.id, cancel, NOW, None)
    assert not await run_store.mark_submitted(run.id, submission("late-1", NOW))
    got = await run_store.get(run.id)
    assert got is not None
    assert (got.status, got.backend_run_id, got.backend) == (
        RunStatus.CANCELLED,
        "late-1",
        "comfydeploy",
    )
    assert not await run_store.mark_submitted(run.id, submission("late-2", NOW))
    assert (await run_store.get(run.id) or run).backend_run_id == "late-1"


async def test_due_for_poll_and_note_poll(run_store: RunStore) -> None:
    pending = make_run()
    await run_store.insert(pending)
    early = await submitted(run_store, "b-1")
    late = await submitted(run_store, "b-2")
    done = await finished(run_store, "b-3")
    await run_store.note_poll(late.id, NOW + 20 * SECOND, failed=True)
    await run_store.note_poll(late.id, NOW + 30 * SECOND, failed=True)
    await run_store.note_poll(done.id, NOW, failed=False)

    due_now = await run_store.due_for_poll(NOW + 10 * SECOND, 10)
    assert [r.id for r in due_now] == [early.id]
    due_later = await run_store.due_for_poll(NOW + 30 * SECOND, 10)
    assert [r.id for r in due_later] == [early.id, late.id]
    assert len(await run_store.due_for_poll(NOW + 30 * SECOND, 1)) == 1
    got = await run_store.get(late.id)
    assert got is not None
    assert (got.poll_failures, got.next_poll_at) == (2, NOW + 30 * SECOND)

    unfinished = {r.id for r in await run_store.unfinished(10)}
    assert unfinished == {pending.id, early.id, late.id}


async def test_recent_counts_and_cost(run_store: RunStore) -> None:
    runs = [make_run(created_at=NOW + i * SECOND, user_id="7" if i % 2 else "8") for i in range(5)]
    for run in runs:
        await run_store.insert(run)
    assert await run_store.mark_submitted(runs[0].id, submission("b-0", NOW))
    assert await run_store.apply_event(
        runs[0].id, event(RunStatus.SUCCESS, 1.0, "b-0"), NOW + 1000 * SECOND, None
    )
    assert await run_store.mark_submitted(runs[1].id, submission("b-1", NOW))
    assert await run_store.apply_event(
        runs[1].id, event(RunStatus.FAILED, None, "b-1"), NOW + 500 * SECOND, None
    )

    assert [r.id for r in await run_store.recent(3)] == [runs[4].id, runs[3].id, runs[2].id]
    mine = await run_store.recent(10, user_key="telegram:7")
    assert [r.id for r in mine] == [runs[3].id, runs[1].id]
    assert await run_store.recent(10, user_key="discord:7") == []
    ok = await run_store.recent(10, status=RunStatus.SUCCESS)
    assert [r.id for r in ok] == [runs[0].id]
    assert await run_store.count_by_status() == {
        RunStatus.PENDING: 3,
        RunStatus.SUCCESS: 1,
        RunStatus.FAILED: 1,
    }
    assert await run_store.total_cost() == pytest.approx(0.75)


async def test_empty_store_stats(run_store: RunStore) -> None:
    assert await run_store.count_by_status() == {}
    assert await run_store.total_cost() == 0.0
    assert await run_store.recent(5) == []


async def test_event_for_another_backend_run_changes_nothing(run_store: RunStore) -> None:
    run = await submitted(run_store, "b-1")
    assert not await run_store.apply_event(run.id, event(RunStatus.SUCCESS, 1.0, "b-9"), NOW, None)
    got = await run_store.get(run.id)
    assert got is not None and got.status is RunStatus.NOT_STARTED
