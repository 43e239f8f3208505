"""A result's status message is put in its final state after the result is posted and the
delivery's slot given back, and the delivery stays owed until it is: a failed final edit, or a
process that stopped before it, is made good by the next attempt or another process, with none
of the result's messages posted again."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from core.delivery import DeliveryPolicy
from core.errors import SendFailed
from core.models import ChatRef, DeliveryState, Run
from tests.e2e.harness import Engine, world
from tests.e2e.test_delivery_fencing import finish, start
from tests.fakes.clock import FakeClock
from tests.fakes.notifiers import PARTS, RecordingChat
from tests.fakes.waiting import eventually

ANN = ChatRef(platform="test", chat_id="1", user_id="1")
BOB = ChatRef(platform="test", chat_id="2", user_id="2")


async def delivery_of(bot: Engine, run: Run) -> DeliveryState:
    stored = await bot.container.runs_store.get(run.id)
    assert stored is not None
    return stored.delivery


async def test_a_result_waiting_for_its_final_status_edit_holds_no_slot(
    mongo_uri: str, tmp_path: Path
) -> None:
    chat = RecordingChat(end_gate=asyncio.Event())
    policy = DeliveryPolicy(progress_interval_s=0, max_concurrent=1)
    async with (
        world(mongo_uri, tmp_path) as w,
        w.engine(notifiers=[chat], delivery_policy=policy) as bot,
    ):
        first = await start(bot, "first", ANN)
        await finish(w, first)
        await chat.ending.wait()  # Ann's result is out; her status message waits for its edit
        second = await start(bot, "second", BOB)
        await finish(w, second)

        async def bob_has_his_result() -> bool:
            return chat.messages_of(second.id) == list(PARTS)

        await eventually(bob_has_his_result)  # through the one slot, while Ann's edit waits
        assert chat.messages_of(first.id) == list(PARTS)
        assert chat.finals[first.id] == 0
        assert await delivery_of(bot, first) is DeliveryState.CLAIMED  # still owed its edit
        assert chat.end_gate is not None
        chat.end_gate.set()
        await bot.settle()
        assert await delivery_of(bot, first) is DeliveryState.DELIVERED
    assert (chat.finals[first.id], chat.finals[second.id]) == (1, 1)


async def test_a_failed_final_status_edit_comes_back_alone(mongo_uri: str, tmp_path: Path) -> None:
    chat = RecordingChat(end_failure=SendFailed("flood wait", retry_after=5))
    async with world(mongo_uri, tmp_path) as w, w.engine(notifiers=[chat]) as bot:
        run = await start(bot, "an edit refused once")
        await finish(w, run)
        await bot.settle()
        assert chat.messages_of(run.id) == list(PARTS)
        assert chat.finals[run.id] == 0
        assert await delivery_of(bot, run) is DeliveryState.PENDING
        w.clock.advance(6)
        assert await bot.container.delivery.deliver_due() == 1
        await bot.settle()
        assert await delivery_of(bot, run) is DeliveryState.DELIVERED
    assert chat.messages_of(run.id) == list(PARTS)  # nothing posted twice
    assert chat.finals[run.id] == 1


async def test_a_process_gone_between_result_and_final_edit_leaves_the_edit_to_another(
    mongo_uri: str, tmp_path: Path
) -> None:
    stuck, taker = RecordingChat(end_gate=asyncio.Event()), RecordingChat()
    async with world(mongo_uri, tmp_path) as w:
        ahead = FakeClock(w.clock.now() + timedelta(minutes=2))  # a's lease ran out, to b
        async with w.engine(notifiers=[taker], http=False, clock=ahead) as b:
            async with w.engine(notifiers=[stuck]) as a:
                run = await start(a, "a process that stops")
                await finish(w, run)

                async def result_out() -> bool:  # then a hangs in its final edit (a late
                    # progress edit that finds the run ended may begin one before the result)
                    return stuck.ending.is_set() and stuck.messages_of(run.id) == list(PARTS)

                await eventually(result_out)
                assert await b.container.delivery.deliver_due() == 1
                await b.settle()
                await a.container.delivery.stop(0)  # and is stopped, its edit never made
            assert await delivery_of(b, run) is DeliveryState.DELIVERED
    assert stuck.messages_of(run.id) == list(PARTS)
    assert taker.posted == []  # b posted nothing again: it only ended the status message
    assert (stuck.finals[run.id], taker.finals[run.id]) == (0, 1)


async def test_a_stop_hands_on_at_once_the_results_still_waiting_for_their_chat(
    mongo_uri: str, tmp_path: Path
) -> None:
    """Results queued behind one another in a chat are not posted by a stopping process: it
    finishes the one being posted and gives the others back at once, to be posted once by
    another process."""
    stopping, taker = RecordingChat(), RecordingChat()
    async with world(mongo_uri, tmp_path) as w, w.engine(notifiers=[taker], http=False) as b:
        async with w.engine(notifiers=[stopping]) as a:
            runs = [await start(a, f"result {n}") for n in range(3)]
            gate = stopping.hold("head")
            for run in runs:
                await finish(w, run)
            await stopping.reached["head"].wait()  # the first is posting; two wait

            async def both_wait() -> bool:
                states = [await delivery_of(a, run) for run in runs[1:]]
                return states == [DeliveryState.CLAIMED] * 2

            await eventually(both_wait)
            stop = asyncio.create_task(a.container.delivery.stop(30))

            async def handed_on() -> bool:
                states = [await delivery_of(a, run) for run in runs[1:]]
                return DeliveryState.CLAIMED not in states

            await eventually(handed_on)  # while the first is still held
            assert not stop.done()
            gate.set()
            await stop
        assert await b.container.delivery.deliver_due() == 2
        await b.settle()
        for run in runs:
            assert await delivery_of(b, run) is DeliveryState.DELIVERED
    assert stopping.messages_of(runs[0].id) == list(PARTS)
    for run in runs[1:]:
        assert stopping.messages_of(run.id) == []
        assert taker.messages_of(run.id) == list(PARTS)
