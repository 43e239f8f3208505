"""Updates from the fake to a real PTB Bot: users, replies, presses, duplicates, webhooks, and
uploads whose answer never arrives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from telegram import InputMediaPhoto
from telegram.error import Conflict, NetworkError, TimedOut

from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_kit import bot_on, png_bytes

GROUP = -1001234
TOPIC = 77
SECRET = "s3cret-token"


async def test_users_replies_and_presses_by_others_in_a_topic() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        fake.add_user(7, "Ann", username="ann", language_code="en")
        fake.add_user(9, "Bob", username="bob_spam", language_code="pt-br")
        spam = fake.send_text(GROUP, 9, "buy now", thread_id=TOPIC)
        ban = fake.send_text(GROUP, 7, "/ban", thread_id=TOPIC, reply_to=spam)
        status = await bot.send_message(GROUP, "⏳", message_thread_id=TOPIC)
        query_id = fake.press_button(9, fake.messages[(GROUP, status.message_id)], "cancel:r1")

        updates = await bot.get_updates(timeout=5)
        assert [u.update_id for u in updates] == sorted({u.update_id for u in updates})
        command = updates[1].message
        assert command is not None and command.message_id == ban["message_id"]
        assert command.from_user is not None and command.from_user.username == "ann"
        assert command.reply_to_message is not None
        assert command.reply_to_message.from_user is not None
        assert command.reply_to_message.from_user.id == 9
        assert command.reply_to_message.from_user.language_code == "pt-br"
        assert (command.message_thread_id, command.chat.is_forum) == (TOPIC, True)
        press = updates[2].callback_query
        assert press is not None and press.id == query_id and press.from_user.id == 9
        assert press.message is not None and press.message.message_id == status.message_id
        assert press.message.chat.id == GROUP
        assert fake.user(7)["username"] == "ann" and fake.user(8)["first_name"] == "Ann"


async def test_a_second_poller_cuts_the_first_short_with_a_conflict() -> None:
    """Telegram's one-consumer rule: a getUpdates arriving while another waits ends the waiting
    one with 409 "terminated by other getUpdates request"; the fake records who was cut."""
    async with FakeTelegram() as fake, bot_on(fake) as first, bot_on(fake) as second:
        waiting = asyncio.create_task(first.get_updates(timeout=5))
        await fake.wait_for(lambda: fake.live_polls == 1)
        assert await second.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await waiting
        calls = [c for c in fake.calls if c.method == "getUpdates"]
        assert [c.ok for c in calls] == [False, True] and calls[0].peer != calls[1].peer
        assert [(c.terminated, c.by, c.live) for c in fake.poll_conflicts] == [
            (calls[0].peer, calls[1].peer, True)
        ]


async def test_the_same_update_twice_through_get_updates() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        fake.send_text(5, 7, "/txt2img a fox")
        first = await bot.get_updates(timeout=5)
        fake.redeliver(first[0].update_id)  # e.g. the answer was lost; Telegram sends it again
        fake.send_text(5, 7, "/help")
        second = await bot.get_updates(offset=first[-1].update_id + 1, timeout=5)
        assert [u.update_id for u in second] == [first[0].update_id, first[0].update_id + 1]
        assert second[0].to_dict() == first[0].to_dict()
        assert await bot.get_updates(offset=second[-1].update_id + 1, timeout=0) == ()


async def test_only_the_update_types_the_bot_asked_for() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        fake.send_text(5, 7, "/before anything was asked")
        fake.push_update({"message_reaction": {"chat": {"id": 5}}})  # never by default
        (first,) = await bot.get_updates(timeout=5, allowed_updates=["message"])
        assert first.message is not None
        fake.press_button(7, fake.messages[(5, 1)], "cancel:r1")  # not asked for: not sent
        fake.send_text(5, 7, "/after")
        (second,) = await bot.get_updates(offset=first.update_id + 1, timeout=5)  # as before
        assert second.message is not None and second.message.text == "/after"
        assert [set(u) - {"update_id"} for u in fake.unwanted] == [
            {"message_reaction"},
            {"callback_query"},
        ]

        await bot.get_updates(offset=second.update_id + 1, timeout=0, allowed_updates=[])
        query_id = fake.press_button(7, fake.messages[(5, 1)], "cancel:r1")  # the default again
        (press,) = await bot.get_updates(offset=second.update_id + 1, timeout=5)
        assert press.callback_query is not None and press.callback_query.id == query_id

        await bot.set_webhook("https://example.com/hook", allowed_updates=["pre_checkout_query"])
        fake.send_text(5, 7, "/while the webhook is set")
        assert len(fake.unwanted) == 3


@asynccontextmanager
async def webhook_server(statuses: list[int]) -> AsyncIterator[tuple[str, list[Any]]]:
    """A stand-in for the bot's webhook: answers `statuses` in turn (then 200), records bodies
    with their secret header."""
    received: list[Any] = []

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        received.append((body, request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        return web.Response(status=statuses.pop(0) if statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/hook", received
    finally:
        await runner.cleanup()


async def test_webhook_push_retries_and_duplicates() -> None:
    async with (
        webhook_server([503]) as (url, received),
        FakeTelegram(push_webhooks=True) as fake,
        bot_on(fake) as bot,
    ):
        fake.send_text(5, 7, "/before the webhook is set")  # kept until there is one
        await bot.set_webhook(url, secret_token=SECRET)
        await fake.wait_for(lambda: len(received) == 2)
        assert [status.status for status in fake.webhook_log] == [503, 200]
        assert received[0] == received[1]  # retried unchanged, with the secret header
        update, header = received[1]
        assert header == SECRET and update["message"]["text"] == "/before the webhook is set"

        fake.redeliver(update["update_id"])
        fake.send_text(5, 7, "/next")
        await fake.wait_for(lambda: len(received) == 4)
        ids = [body["update_id"] for body, _ in received]
        assert ids == [1, 1, 1, 2]
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 0
        assert (
            info.last_error_message == "Wrong response from the webhook: 503 Service Unavailable"
        )
        assert await fake.post_update(fake.update_log[2]) == 200  # by hand, same update_id
        assert received[-1][0]["update_id"] == 2


async def test_webhook_push_gives_up_after_some_attempts() -> None:
    async with (
        webhook_server([500] * 10) as (url, received),
        FakeTelegram(push_webhooks=True) as fake,
        bot_on(fake) as bot,
    ):
        fake.webhook_retry_delay = 0.001
        await bot.set_webhook(url, secret_token=SECRET)
        fake.send_text(5, 7, "/lost")
        fake.send_text(5, 7, "/next")
        await fake.wait_for(lambda: len(received) == fake.webhook_max_attempts + 1)
        assert [body["update_id"] for body, _ in received[-2:]] == [1, 2]
        assert not fake.webhook_log[0].ok and fake.webhook_log[0].status == 500


async def test_webhook_push_runs_chats_side_by_side_and_each_chat_in_order() -> None:
    """Like Telegram with `max_connections` above one: other chats' updates are posted while one
    waits for its answer; a chat's next update only after its previous one was answered."""
    answers: dict[int, asyncio.Event] = {}
    arrived: list[int] = []
    changed = asyncio.Condition()

    async def hook(request: web.Request) -> web.Response:
        update_id = (await request.json())["update_id"]
        arrived.append(update_id)
        async with changed:
            changed.notify_all()
        await answers.setdefault(update_id, asyncio.Event()).wait()
        return web.Response(status=200)

    async def posted(count: int) -> None:
        async with asyncio.timeout(10), changed:
            await changed.wait_for(lambda: len(arrived) == count)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with FakeTelegram(push_webhooks=True) as fake, bot_on(fake) as bot:
            for chat, text in ((5, "/a1"), (5, "/a2"), (6, "/b1"), (7, "/c1")):
                fake.send_text(chat, 7, text)
            await bot.set_webhook(f"http://127.0.0.1:{port}/hook", max_connections=2)
            await posted(2)
            assert arrived == [1, 3]  # chat 5's first and chat 6's; /a2 waits for /a1
            answers.setdefault(3, asyncio.Event()).set()
            await posted(3)
            assert arrived[-1] == 4  # a connection freed: chat 7, still not /a2
            answers.setdefault(1, asyncio.Event()).set()
            await posted(4)
            assert arrived[-1] == 2
            for event in (answers.setdefault(i, asyncio.Event()) for i in (2, 4)):
                event.set()
            await fake.wait_for(lambda: sum(1 for a in fake.webhook_log if a.ok) == 4)
    finally:
        await runner.cleanup()


async def test_an_upload_accepted_but_never_answered() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        stall = fake.accept_then_stall("sendPhoto")
        with pytest.raises(TimedOut):
            await bot.send_photo(5, png_bytes(), caption="✅ Done", read_timeout=0.2)
        assert stall.accepted.is_set() and stall.call is not None and stall.call.stalled
        assert [m["caption"] for (chat, _), m in fake.messages.items() if chat == 5] == ["✅ Done"]
        stall.release()

        album = fake.accept_then_stall("sendMediaGroup", drop=True)
        with pytest.raises(NetworkError):
            await bot.send_media_group(5, [InputMediaPhoto(png_bytes())] * 2)
        assert album.accepted.is_set() and len(album.call.result) == 2  # type: ignore[union-attr]
        document = fake.accept_then_stall("sendDocument")
        with pytest.raises(TimedOut):
            await bot.send_document(5, png_bytes(), filename="a.png", read_timeout=0.2)
        assert document.accepted.is_set()
        # The next request is answered normally; a stall still held is let go at stop().
        await bot.send_message(5, "next")
        assert len(fake.sent(chat_id=5)) == 4 and len(fake.histories(5)) == 5
