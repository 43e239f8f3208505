"""The fake's flood limits answer a real PTB Bot with Telegram's 429s, on a clock tests move."""

from __future__ import annotations

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto
from telegram.error import BadRequest, RetryAfter

from adapters.telegram.errors import retry_seconds
from tests.fakes.telegram_api import FakeTelegram, FloodLimits, ManualClock, Rate
from tests.fakes.telegram_kit import bot_on, png_bytes

GROUP = -1001234


async def refused(bot: Bot, chat_id: int, text: str = "x") -> float:
    """The retry_after of the 429 that sending `text` must get."""
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(chat_id, text)
    return retry_seconds(caught.value)


async def test_limits_are_off_unless_asked_for() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        for n in range(5):
            await bot.send_message(5, f"m{n}")
        assert fake.flood is None and fake.flood_429s == {}
        fake.fail_next("sendMessage", retry_after=4)
        assert await refused(bot, 5) == 4
        assert fake.flood_429s == {5: 1}  # every 429 is counted, injected ones too


async def test_one_message_a_second_in_a_private_chat() -> None:
    clock = ManualClock()
    async with FakeTelegram(limits=FloodLimits(), clock=clock) as fake, bot_on(fake) as bot:
        await bot.send_message(5, "first")
        assert await refused(bot, 5) == 1
        clock.advance(0.4)
        assert await refused(bot, 5) == 1  # 0.6 s left, rounded up to whole seconds
        await bot.send_message(6, "another chat is not held up")
        clock.advance(0.6)
        await bot.send_message(5, "a second later")

        assert fake.flood_429s == {5: 2}
        refusal = next(c for c in fake.calls if not c.ok)
        assert refusal.error == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        }
        assert [c.text for c in fake.sent("sendMessage", 5)] == ["first", "a second later"]


async def test_a_burst_allowance_then_one_a_second() -> None:
    clock = ManualClock()
    limits = FloodLimits(per_chat=Rate(3, 3.0))
    async with FakeTelegram(limits=limits, clock=clock) as fake, bot_on(fake) as bot:
        for n in range(3):
            await bot.send_message(5, f"burst {n}")
        assert await refused(bot, 5) == 3
        clock.advance(1)
        assert await refused(bot, 5) == 2
        clock.advance(1.5)
        assert await refused(bot, 5) == 1
        clock.advance(0.5)  # at most 3 in any 3 seconds: the burst has left the window
        for n in range(3):
            await bot.send_message(5, f"second burst {n}")
        assert await refused(bot, 5) == 3
        assert fake.flood_429s[5] == 4


async def test_twenty_messages_a_minute_in_a_group() -> None:
    clock = ManualClock()
    async with FakeTelegram(limits=FloodLimits(), clock=clock) as fake, bot_on(fake) as bot:
        for n in range(20):
            await bot.send_message(GROUP, f"m{n}", message_thread_id=7)
            clock.advance(1)
        assert await refused(bot, GROUP) == 40  # the first goes out of the minute at t=60
        clock.advance(39)
        assert await refused(bot, GROUP) == 1
        clock.advance(1)
        await bot.send_message(GROUP, "one more")
        assert fake.flood_429s == {GROUP: 2}


async def test_thirty_messages_a_second_overall() -> None:
    clock = ManualClock()
    async with FakeTelegram(limits=FloodLimits(), clock=clock) as fake, bot_on(fake) as bot:
        for chat_id in range(100, 130):
            await bot.send_message(chat_id, "broadcast")
        assert await refused(bot, 130) == 1
        clock.advance(1)
        await bot.send_message(130, "next second")
        assert fake.flood_429s == {130: 1}


async def test_edits_count_unless_turned_off() -> None:
    clock = ManualClock()
    async with FakeTelegram(limits=FloodLimits(), clock=clock) as fake, bot_on(fake) as bot:
        sent = await bot.send_message(5, "status")
        with pytest.raises(RetryAfter):
            await bot.edit_message_text("10%", chat_id=5, message_id=sent.message_id)
        assert fake.flood_429s == {5: 1}

    limits = FloodLimits(count_edits=False)
    async with FakeTelegram(limits=limits, clock=clock) as fake, bot_on(fake) as bot:
        sent = await bot.send_message(5, "status")
        await bot.edit_message_text("10%", chat_id=5, message_id=sent.message_id)
        assert fake.flood_429s == {}


async def test_refused_and_failed_requests_take_no_slot() -> None:
    clock = ManualClock()
    async with FakeTelegram(limits=FloodLimits(), clock=clock) as fake, bot_on(fake) as bot:
        with pytest.raises(BadRequest):
            await bot.send_message(5, " ")  # empty text: refused before it counts
        await bot.send_message(5, "first real one")
        await refused(bot, 5)
        clock.advance(1)
        album = [InputMediaPhoto(png_bytes()), InputMediaPhoto(png_bytes(4, 4))]
        assert len(await bot.send_media_group(5, album)) == 2  # one request, one slot
        clock.advance(1)
        await bot.send_message(5, "after the album")
        assert fake.flood_429s == {5: 1}


async def test_the_real_monotonic_clock_by_default() -> None:
    limits = FloodLimits(per_chat=Rate(1, 60.0))
    async with FakeTelegram(limits=limits) as fake, bot_on(fake) as bot:
        await bot.send_message(5, "now")
        assert 59 <= await refused(bot, 5) <= 60
        assert fake.flood_429s == {5: 1}


async def test_status_messages_end_in_their_final_state() -> None:
    cancel = InlineKeyboardMarkup([[InlineKeyboardButton("✖ Cancel", callback_data="cancel:r1")]])
    clock = ManualClock()
    async with FakeTelegram(limits=FloodLimits(), clock=clock) as fake, bot_on(fake) as bot:
        status = await bot.send_message(5, "⏳ queued", reply_markup=cancel)
        with pytest.raises(RetryAfter):
            await bot.edit_message_text(
                "▰▱ 50%", chat_id=5, message_id=status.message_id, reply_markup=cancel
            )
        clock.advance(1)
        await bot.edit_message_text("✅ Done", chat_id=5, message_id=status.message_id)

        history = fake.history(5, status.message_id)
        assert [v.text for v in history.versions] == ["⏳ queued", "✅ Done"]  # the 429 is no edit
        assert history.first.buttons == [("✖ Cancel", "cancel:r1")]
        assert history.final.buttons == [] and history.final.reply_markup is None
        statuses = fake.histories(5, lambda h: ("✖ Cancel", "cancel:r1") in h.first.buttons)
        assert statuses == [history]
        assert all(h.final.buttons == [] for h in statuses)

        clock.advance(1)
        photo = await bot.send_photo(5, png_bytes(), caption="✅ Done", reply_markup=cancel)
        clock.advance(1)
        await bot.edit_message_reply_markup(5, photo.message_id, reply_markup=None)
        clock.advance(1)
        await bot.edit_message_caption(5, photo.message_id, caption="✅ Done · 2 s")
        clock.advance(1)
        with pytest.raises(BadRequest, match="no text in the message"):
            await bot.edit_message_text("nope", chat_id=5, message_id=photo.message_id)
        versions = fake.history(5, photo.message_id).versions
        assert [(v.text, v.buttons) for v in versions] == [
            ("✅ Done", [("✖ Cancel", "cancel:r1")]),
            ("✅ Done", []),
            ("✅ Done · 2 s", []),
        ]
        assert len(fake.histories(5)) == 2
