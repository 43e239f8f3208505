"""The send pacer on time that jumps (WarpTime): a chat's requests spaced by its rate, urgent
ones first, a held chat waiting alone, the overall rate shared by every chat."""

from __future__ import annotations

import asyncio

from core.pacing import ChatPacer, Rate
from tests.fakes.clock import WarpTime

SECOND = Rate(1, 1.0)


async def send(pacer: ChatPacer, time: WarpTime, log: list[tuple[str, float]], chat: str) -> None:
    async with pacer.turn(chat, [SECOND]):
        log.append((chat, time.now))


async def test_a_chats_requests_are_a_second_apart_and_other_chats_do_not_wait() -> None:
    time = WarpTime(start=0.0)
    pacer = ChatPacer(timer=time)
    log: list[tuple[str, float]] = []
    await asyncio.gather(
        *(send(pacer, time, log, "a") for _ in range(4)), send(pacer, time, log, "b")
    )
    assert [t for chat, t in log if chat == "a"] == [0.0, 1.0, 2.0, 3.0]
    assert [chat for chat, _ in log][:2] == ["a", "b"]  # b did not wait behind a


async def test_urgent_requests_go_before_background_ones() -> None:
    time = WarpTime(start=0.0)
    pacer = ChatPacer(timer=time)
    order: list[str] = []

    async def request(name: str, urgent: bool) -> None:
        async with pacer.turn("chat", [SECOND], urgent=urgent):
            order.append(name)

    first = asyncio.create_task(request("first", True))
    await asyncio.sleep(0)
    await asyncio.gather(
        request("progress 1", False), request("progress 2", False), request("result", True), first
    )
    assert order == ["first", "result", "progress 1", "progress 2"]


async def test_a_held_chat_waits_alone_then_goes_at_once() -> None:
    time = WarpTime(start=0.0)
    pacer = ChatPacer(timer=time)
    log: list[tuple[str, float]] = []
    await send(pacer, time, log, "a")
    await send(pacer, time, log, "b")
    pacer.hold("a", 5.0)  # as after a 429 with retry_after=5
    await send(pacer, time, log, "b")
    await send(pacer, time, log, "a")
    assert log == [("a", 0.0), ("b", 0.0), ("b", 1.0), ("a", 5.0)]


async def test_the_overall_rate_counts_requests_still_in_flight() -> None:
    time = WarpTime(start=0.0)
    pacer = ChatPacer(overall=Rate(3, 1.0), timer=time)
    answer = asyncio.Event()
    started: list[str] = []

    async def slow(chat: str) -> None:
        async with pacer.turn(chat, [SECOND]):
            started.append(chat)
            await answer.wait()

    tasks = [asyncio.create_task(slow(chat)) for chat in "abcd"]
    for _ in range(5):
        await asyncio.sleep(0)
    assert started == ["a", "b", "c"]  # the fourth waits for an answer, not a timer
    answer.set()
    await asyncio.gather(*tasks)
    assert started == ["a", "b", "c", "d"] and time.now == 1.0
