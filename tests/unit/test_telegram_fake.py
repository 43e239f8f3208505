"""The fake Bot API server answers a real PTB Bot the way Telegram does."""

from __future__ import annotations

import aiohttp
import pytest
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto
from telegram.error import BadRequest, RetryAfter

from adapters.telegram.errors import retry_seconds
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_kit import bot_on, png_bytes


async def test_get_me_and_wrong_token() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        assert bot.username == fake.username
        async with aiohttp.ClientSession() as session:
            url = f"{fake.base_url}/bot1:wrong/getMe"
            async with session.post(url) as response:
                assert response.status == 401
                assert (await response.json())["ok"] is False


async def test_updates_are_confirmed_by_offset_and_long_polled() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        first = fake.send_text(5, 7, "/start")
        updates = await bot.get_updates(timeout=5)
        assert [u.message.text for u in updates if u.message] == ["/start"]
        assert updates[0].message is not None
        assert updates[0].message.date.timestamp() == first["date"]
        fake.send_text(5, 7, "/help")
        later = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=5)
        assert [u.message.text for u in later if u.message] == ["/help"]
        # Confirmed updates are gone; an empty queue answers after the timeout.
        assert await bot.get_updates(offset=later[-1].update_id + 1, timeout=0) == ()


async def test_messages_photos_albums_and_edits_are_recorded() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        command = fake.send_text(-100, 7, "/go", thread_id=42)
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="cancel:r1")]])
        sent = await bot.send_message(
            -100,
            "hello",
            message_thread_id=42,
            reply_to_message_id=command["message_id"],
            reply_markup=markup,
        )
        assert sent.reply_to_message is not None
        assert sent.reply_to_message.message_id == command["message_id"]
        call = fake.sent("sendMessage")[0]
        assert (call.chat_id, call.thread_id, call.reply_to) == (-100, 42, command["message_id"])
        assert call.buttons == [("x", "cancel:r1")]

        await bot.edit_message_text("bye", chat_id=-100, message_id=sent.message_id)
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text("bye", chat_id=-100, message_id=sent.message_id)

        photo = await bot.send_photo(-100, png_bytes(), caption="one", filename="a.png")
        assert photo.photo and photo.caption == "one"
        assert fake.sent("sendPhoto")[0].files["photo"].size == len(png_bytes())

        album = await bot.send_media_group(
            -100, [InputMediaPhoto(png_bytes(), caption="two"), InputMediaPhoto(png_bytes(4, 4))]
        )
        assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id
        media = fake.sent("sendMediaGroup")[0].media
        assert media[0]["caption"] == "two"
        assert [m["upload"].size for m in media] == [len(png_bytes()), len(png_bytes(4, 4))]


async def test_files_are_served_by_get_file() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        message = fake.send_photo(5, 7, png_bytes(), caption="/img2img")
        file = await bot.get_file(message["photo"][-1]["file_id"])
        assert bytes(await file.download_as_bytearray()) == png_bytes()


async def test_commands_and_faults() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        await bot.set_my_commands([BotCommand("start", "Start here")])
        assert [c.command for c in await bot.get_my_commands()] == ["start"]
        with pytest.raises(BadRequest):
            await bot.set_my_commands([BotCommand("Bad-Name", "x")])

        fake.fail_next("sendMessage", times=2, retry_after=3)
        for _ in range(2):
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(5, "hi")
            assert retry_seconds(caught.value) == 3
        await bot.send_message(5, "hi")
        assert [c.ok for c in fake.calls if c.method == "sendMessage"] == [False, False, True]
        assert fake.calls[-2].error == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        }


async def test_wait_for_wakes_on_each_request() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        await bot.send_message(5, "first")
        call = await fake.wait_for_call("sendMessage", lambda c: c.text == "first")
        assert call.chat_id == 5
