"""Each message of a result reaches its chat once, with two processes on one database: a slow
delivery keeps its claim by renewing it, a sender that lost its claim stops before its next
message, two processes delivering at once share the work, and deliveries are bounded."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from core.delivery import DeliveryPolicy
from core.models import ChatRef, DeliveryState, Run
from tests.e2e.harness import Engine, World, world
from tests.fakes.clock import FakeClock
from tests.fakes.notifiers import PARTS, RecordingChat
from tests.fakes.waiting import eventually

WHO = ChatRef(platform="test", chat_id="1", user_id="1")


async def start(bot: Engine, prompt: str, who: ChatRef = WHO) -> Run:
    """A command as the user sends it, without waiting for its delivery."""
    clock = bot.container.clock
    assert isinstance(clock, FakeClock)
    clock.advance(0.001)  # runs are told apart by when they were recorded
    await bot.front.say(f"/txt2img {prompt} width=32 height=32", who)
    return await bot.last_run()


async def finish(w: World, run: Run) -> None:
    assert run.backend_run_id is not None
    await w.sim.finish(run.backend_run_id)


async def lease_of(bot: Engine, run: Run) -> object:
    doc = await bot.container.db["runs"].find_one({"_id": run.id})
    assert doc is not None
    return doc.get("delivery_lease_until")


async def test_a_slow_delivery_renews_its_claim_and_is_never_taken_over(
    mongo_uri: str, tmp_path: Path
) -> None:
    slow, other = RecordingChat(), RecordingChat()
    gate = slow.hold("body")
    async with (
        world(mongo_uri, tmp_path) as w,
        w.engine(notifiers=[slow]) as a,
        w.engine(notifiers=[other], http=False) as b,
    ):
        run = await start(a, "a slow upload")
        await finish(w, run)
        await slow.reached["body"].wait()
        for _ in range(3):  # three minutes, far past the 60 s lease
            before = await lease_of(a, run)
            w.clock.advance(60)
            await eventually(lambda before=before: _moved(a, run, before))
            assert await b.container.delivery.deliver_due() == 0
        gate.set()
        await a.settle()
    assert slow.messages_of(run.id) == list(PARTS)
    assert other.posted == []


async def _moved(bot: Engine, run: Run, before: object) -> bool:
    return await lease_of(bot, run) != before


async def test_a_sender_that_lost_its_claim_stops_before_its_next_message(
    mongo_uri: str, tmp_path: Path
) -> None:
    frozen, taker = RecordingChat(), RecordingChat()
    gate = frozen.hold("body")
    async with world(mongo_uri, tmp_path) as w:
        ahead = FakeClock(w.clock.now() + timedelta(minutes=2))  # a skewed or paused process
        async with (
            w.engine(notifiers=[frozen]) as a,
            w.engine(notifiers=[taker], http=False, clock=ahead) as b,
        ):
            run = await start(a, "a frozen sender")
            await finish(w, run)
            await frozen.reached["body"].wait()
            assert await b.container.delivery.deliver_due() == 1  # to b, a's lease ran out
            await b.settle()
            gate.set()  # a wakes up: its next write finds the claim gone
            await a.settle()
            stored = await b.container.runs_store.get(run.id)
    # `body` may or may not have reached the chat when a froze: never twice, and `tail` once.
    assert frozen.messages_of(run.id) == ["head", "body"]
    assert taker.messages_of(run.id) == ["tail"]
    assert stored is not None and stored.delivery is DeliveryState.DELIVERED


async def test_two_processes_delivering_at_once_post_each_message_once(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w:
        async with w.engine() as quiet:  # serves no "test" chat: results stay owed
            runs = []
            for index in range(12):
                run = await start(quiet, f"fox number {index}")
                await finish(w, run)
                runs.append(run)
            await quiet.settle()
        one, two = RecordingChat(), RecordingChat()
        async with (
            w.engine(notifiers=[one], settle=False) as a,
            w.engine(notifiers=[two], http=False, settle=False) as b,
        ):
            started = await asyncio.gather(
                a.container.delivery.deliver_due(), b.container.delivery.deliver_due()
            )
            await asyncio.gather(a.settle(), b.settle())
            assert started == [len(runs), len(runs)]  # both went for every one of them
    for run in runs:
        posted = one.messages_of(run.id) + two.messages_of(run.id)
        assert sorted(posted) == sorted(PARTS), run.id
        assert not (one.messages_of(run.id) and two.messages_of(run.id))


async def test_deliveries_are_bounded_and_one_at_a_time_per_chat(
    mongo_uri: str, tmp_path: Path
) -> None:
    """Two chats at a time; a chat's second result waits for its first (the platform takes a
    chat's messages one by one anyway), without holding a slot another chat could use."""
    chat = RecordingChat(paused=asyncio.Event())
    policy = DeliveryPolicy(progress_interval_s=0, max_concurrent=2)
    chats = [ChatRef(platform="test", chat_id=str(n), user_id=str(n)) for n in (1, 1, 2, 3, 4)]
    async with world(mongo_uri, tmp_path) as w:
        async with w.engine() as quiet:
            runs = []
            for index, who in enumerate(chats):
                runs.append(await start(quiet, f"owl {index}", who))
                await finish(w, runs[-1])
            await quiet.settle()
        async with w.engine(notifiers=[chat], delivery_policy=policy, settle=False) as bot:
            assert await bot.container.delivery.deliver_due() == 5
            await eventually(_returns(lambda: chat.in_flight == 2))
            assert chat.paused is not None
            chat.paused.set()
            await bot.settle()
    assert chat.most_in_flight == 2
    assert {rid for rid, _ in chat.posted} == {r.id for r in runs}
    one, two = runs[0].id, runs[1].id  # both in chat 1: one after the other
    in_chat_1 = [rid for rid, _ in chat.posted if rid in (one, two)]
    assert in_chat_1 in ([one] * 3 + [two] * 3, [two] * 3 + [one] * 3)


def _returns(check: object) -> object:
    async def wrapped() -> bool:
        return bool(check())  # type: ignore[operator]

    return wrapped
