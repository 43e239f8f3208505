"""Answers for the asker only, and what a banned user's buttons do, through real PTB and the
fake Bot API. A balance, a usage list, a queue or one's own run list asked for in a group goes
to the user's private chat; the group only hears that it went there, or, when the user never
started the bot (Telegram refuses with 403), how to open a private chat first."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.models import RunStatus
from tests.e2e.harness import world
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.fakes.telegram_e2e import ADMIN_ID, USER_ID, telegram_bot

GROUP = -1005
ADMINS = frozenset({"console:local", f"telegram:{ADMIN_ID}"})
SENT_PRIVATELY = "That answer is for you only: I sent it to you in a private chat."
OPEN_A_CHAT_FIRST = (
    "That answer is for you only, and I cannot write to you privately yet: open a private chat "
    "with me first (https://t.me/comfy_test_bot?start=private), then ask again."
)
REFUSED = "You are not allowed to use this bot."


def texts(fake: FakeTelegram, chat: int) -> list[str]:
    return [c.text or "" for c in fake.sent("sendMessage", chat)]


async def answer_in(fake: FakeTelegram, chat: int, count: int = 1) -> Call:
    return await fake.wait_for_call("sendMessage", lambda c: c.chat_id == chat, count)


@pytest.mark.parametrize(
    ("command", "opening"),
    [
        ("/balance", "💰 You have 999.99 credits."),
        ("/usage", "Your last runs and what they cost:"),
        ("/queue", "You have no runs waiting or running"),
        ("/runs", "Your last runs:"),
    ],
)
async def test_ones_own_answer_asked_in_a_group_goes_to_the_private_chat(
    mongo_uri: str, tmp_path: Path, command: str, opening: str
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        run_command = fake.send_text(GROUP, USER_ID, "/txt2img a fox width=32 height=32")
        await tg.wait_handled(1)
        run = await tg.run_for(run_command)
        await tg.finish(run)
        group_before = texts(fake, GROUP)

        asked = fake.send_text(GROUP, USER_ID, command)
        await tg.wait_handled(2)
        note = await answer_in(fake, GROUP, len(group_before) + 1)
        assert note.text == SENT_PRIVATELY and note.reply_to == asked["message_id"]
        (direct,) = fake.sent("sendMessage", USER_ID)
        assert (direct.text or "").startswith(opening)
        assert direct.thread_id is None and direct.reply_to is None
        assert texts(fake, GROUP) == [*group_before, SENT_PRIVATELY]


async def test_a_user_who_never_started_the_bot_is_told_to_and_the_group_sees_nothing_of_theirs(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        fake.never_started(USER_ID)
        fake.send_text(GROUP, USER_ID, "/balance")
        await tg.wait_handled(1)
        note = await answer_in(fake, GROUP)
        assert note.text == OPEN_A_CHAT_FIRST
        refused = [c for c in fake.calls if c.method == "sendMessage" and not c.ok]
        assert [(c.chat_id, c.error["error_code"]) for c in refused] == [(USER_ID, 403)]
        assert fake.sent("sendMessage", USER_ID) == []
        assert texts(fake, GROUP) == [OPEN_A_CHAT_FIRST]  # no balance, in no words

        fake.send_text(USER_ID, USER_ID, "/start")  # opened through the link
        await tg.wait_handled(2)
        await answer_in(fake, USER_ID)
        fake.send_text(GROUP, USER_ID, "/balance")
        await tg.wait_handled(3)
        assert (await answer_in(fake, GROUP, 2)).text == SENT_PRIVATELY
        balance = await answer_in(fake, USER_ID, 2)
        assert (balance.text or "").startswith("💰 You have 1000.00 credits.")
        assert not any("💰" in text for text in texts(fake, GROUP))


async def test_in_a_private_chat_the_answer_is_simply_there(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        asked = fake.send_text(USER_ID, USER_ID, "/balance")
        await tg.wait_handled(1)
        answer = await answer_in(fake, USER_ID)
        assert (answer.text or "").startswith("💰 You have 1000.00 credits.")
        assert answer.reply_to == asked["message_id"]
        assert len(fake.sent("sendMessage")) == 1


async def test_a_banned_users_buttons_are_refused(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path, admin_ids=ADMINS) as w,
        telegram_bot(w, fake) as tg,
    ):
        done_command = fake.send_text(GROUP, USER_ID, "/txt2img a fox width=32 height=32")
        await tg.wait_handled(1)
        done = await tg.run_for(done_command)
        await tg.finish(done)
        (photo,) = fake.sent("sendPhoto", GROUP)
        result = fake.messages[(GROUP, photo.result["message_id"])]
        slow_command = fake.send_text(GROUP, USER_ID, "/txt2img a slow one width=32 height=32")
        await tg.wait_handled(2)
        slow = await tg.run_for(slow_command)
        await tg.advance(slow)
        (status,) = [
            c for c in fake.sent("sendMessage", GROUP) if c.reply_to == slow_command["message_id"]
        ]
        status_message = fake.messages[(GROUP, status.result["message_id"])]
        fake.send_text(ADMIN_ID, ADMIN_ID, f"/ban {USER_ID}")
        await tg.wait_handled(3)
        assert await tg.engine.container.users.is_banned(f"telegram:{USER_ID}")

        fake.press_button(USER_ID, result, f"same:{done.id}")
        fake.press_button(USER_ID, result, f"reroll:{done.id}")
        fake.press_button(USER_ID, status_message, f"cancel:{slow.id}")
        await tg.wait_handled(6)
        await fake.wait_for(lambda: len(fake.sent("answerCallbackQuery")) == 3)
        assert [c.params.get("text") for c in fake.sent("answerCallbackQuery")] == [REFUSED] * 3
        runs = await tg.engine.container.runs_store.recent(100)
        assert sorted(r.id for r in runs) == sorted([done.id, slow.id])
        still = await tg.run_for(slow_command)
        assert still.status is not RunStatus.CANCELLED and not still.status.terminal
