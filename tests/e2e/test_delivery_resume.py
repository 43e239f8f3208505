"""A result interrupted mid-way resumes after its last message sent; retries follow a time
budget in which a platform that is down spends no attempt; admins can post a result again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.delivery import DeliveryPolicy
from core.errors import SendFailed
from core.models import ChatRef, DeliveryState
from tests.e2e.harness import world
from tests.e2e.test_delivery_fencing import finish, start
from tests.fakes.notifiers import PARTS, RecordingChat


async def test_a_retry_resumes_after_the_messages_already_sent(
    mongo_uri: str, tmp_path: Path
) -> None:
    chat = RecordingChat()
    chat.fail_once["body"] = SendFailed("rate limited", retry_after=5)
    async with world(mongo_uri, tmp_path) as w, w.engine(notifiers=[chat]) as bot:
        run = await start(bot, "a result in three parts")
        await finish(w, run)
        await bot.settle()
        assert chat.messages_of(run.id) == ["head"]
        waiting = await bot.container.runs_store.get(run.id)
        assert waiting is not None and waiting.delivery is DeliveryState.PENDING
        w.clock.advance(6)
        assert await bot.container.delivery.deliver_due() == 1
        await bot.settle()
    assert chat.messages_of(run.id) == list(PARTS)  # the first part was not posted again


async def test_a_platform_that_is_down_spends_no_attempt_within_the_budget(
    mongo_uri: str, tmp_path: Path
) -> None:
    chat = RecordingChat(failure=SendFailed("not connected", platform_down=True))
    async with world(mongo_uri, tmp_path) as w, w.engine(notifiers=[chat]) as bot:
        run = await start(bot, "an outage")
        await finish(w, run)
        await bot.settle()
        store = bot.container.runs_store
        for _ in range(12):  # a long outage: two hours of retries
            w.clock.advance(600)
            await bot.container.delivery.deliver_due()
            await bot.settle()
        owed = await store.get(run.id)
        assert owed is not None
        assert (owed.delivery, owed.delivery_attempts) == (DeliveryState.PENDING, 0)
        chat.failure = None
        w.clock.advance(600)
        await bot.container.delivery.deliver_due()
        await bot.settle()
        assert chat.messages_of(run.id) == list(PARTS)


async def test_past_the_budget_a_delivery_is_given_up_and_an_admin_can_redeliver(
    mongo_uri: str, tmp_path: Path
) -> None:
    chat = RecordingChat(failure=SendFailed("server error"))
    policy = DeliveryPolicy(progress_interval_s=0, retry_budget=timedelta(hours=1))
    async with (
        world(mongo_uri, tmp_path) as w,
        w.engine(notifiers=[chat], delivery_policy=policy) as bot,
    ):
        run = await start(bot, "a long outage")
        await finish(w, run)
        await bot.settle()
        store = bot.container.runs_store
        for _ in range(5):  # 50 minutes: still within the budget
            w.clock.advance(600)
            await bot.container.delivery.deliver_due()
            await bot.settle()
        retried = await store.get(run.id)
        assert retried is not None and retried.delivery is DeliveryState.PENDING
        for _ in range(2):
            w.clock.advance(600)
            await bot.container.delivery.deliver_due()
            await bot.settle()
        given_up = await store.get(run.id)
        assert given_up is not None and given_up.delivery is DeliveryState.ABANDONED
        chat.failure = None
        refused = await bot.say(f"/redeliver {run.id}", who=_stranger())
        assert refused is not None and refused.text.startswith("Not allowed")
        reply = await bot.say(f"/redeliver {run.id}")
        assert (
            reply is not None and reply.text == f"Run {run.id}: its result is being posted again."
        )
        assert chat.messages_of(run.id) == list(PARTS)
        again = await bot.say(f"/redeliver {run.id}")  # delivered: an admin gets all of it again
        assert again is not None and "posted again" in again.text
    assert chat.messages_of(run.id) == [*PARTS, *PARTS]


def _stranger() -> ChatRef:
    return ChatRef(platform="console", chat_id="x", user_id="stranger")
