"""What a heavy Telegram user expects, through PTB and the fake Bot API: answers in their own
language, the recipe under a result (and who asked, in groups), `/runs` with ids to tap and
buttons to show each again, hints in private chats, bans by reply or @username."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import world
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.fakes.telegram_e2e import ADMIN_ID, USER_ID, telegram_bot
from tests.fakes.telegram_kit import png_bytes

GROUP = -1005
ADMINS = frozenset({"console:local", f"telegram:{ADMIN_ID}"})


def utf16(text: str) -> int:
    """A length as Telegram counts entity offsets (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def replies_to(fake: FakeTelegram, message: dict[str, object]) -> list[Call]:
    return [c for c in fake.sent("sendMessage") if c.reply_to == message["message_id"]]


async def test_a_russian_user_gets_everything_in_russian(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        fake.add_user(USER_ID, "Аня", language_code="ru")
        fake.send_text(USER_ID, USER_ID, "/workflows")
        listing = await fake.wait_for_call("sendMessage")
        assert (listing.text or "").startswith("Сценарии:")
        assert "(отправьте изображение с этой командой в подписи)" in (listing.text or "")

        command = fake.send_text(USER_ID, USER_ID, "/txt2img лиса width=32 height=32")
        await tg.wait_handled(2)
        run = await tg.run_for(command)
        status = replies_to(fake, command)[0]
        assert (status.text or "").startswith("⏳ Запускается · txt2img · запуск")
        assert status.buttons == [("✖ Отменить", f"cancel:{run.id}")]
        text = status.text or ""
        offset = utf16(text[: text.index(run.id)])
        assert status.params["entities"] == [{"type": "code", "offset": offset, "length": 12}]
        await tg.finish(run)
        photo = fake.sent("sendPhoto")[0]
        assert (photo.text or "").startswith("✅ Готово · txt2img")
        assert f"🌱 {run.inputs['seed']}" in (photo.text or "")
        assert [label for label, _ in photo.buttons] == [
            "🔁 Ещё вариант",
            "♻️ Тот же seed",
            "📜 Рецепт",
        ]

        second = fake.send_text(USER_ID, USER_ID, "/txt2img сова width=32 height=32")
        await tg.wait_handled(3)
        fake.send_text(USER_ID, USER_ID, f"/cancel {(await tg.run_for(second)).id}")
        await tg.wait_handled(4)
        answer = await fake.wait_for_call("sendMessage", lambda c: "Отменён" in (c.text or ""))
        assert answer.text == f"Запуск {(await tg.run_for(second)).id}: 🚫 Отменён."
        progress = fake.history(USER_ID, status.result["message_id"])
        assert all("запуск" in (v.text or "") for v in progress.versions)
        notice = fake.history(USER_ID, replies_to(fake, second)[0].result["message_id"]).final
        assert "🚫 Отменён" in (notice.text or "") and "Отменил Аня." in (notice.text or "")

        fake.add_user(USER_ID + 1, "Hans", language_code="de")  # no catalog: the default
        fake.send_text(USER_ID + 1, USER_ID + 1, "/workflows")
        await tg.wait_handled(5)
        german = await fake.wait_for_call("sendMessage", lambda c: c.chat_id == USER_ID + 1)
        assert (german.text or "").startswith("Workflows:")


async def test_a_result_in_a_group_says_who_asked_and_what_with(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        fake.add_user(USER_ID, "Ann", username="ann")
        fake.send_text(GROUP, USER_ID, "/txt2img a fox --steps 12 --ar 2:1")
        await tg.wait_handled(1)
        run = await tg.last_run()
        w.clock.advance(1)
        fake.send_text(USER_ID, USER_ID, "/txt2img a fox width=32 height=32")
        await tg.wait_handled(2)
        await tg.finish(run)
        await tg.finish(await tg.last_run())
        group_caption = fake.sent("sendPhoto", GROUP)[0].text or ""
        private_caption = fake.sent("sendPhoto", USER_ID)[0].text or ""
        assert group_caption.splitlines()[1] == "«a fox» · steps 12 · width 720 · height 360"
        assert group_caption.splitlines()[2].endswith(" · 👤 Ann")
        assert "👤" not in private_caption

        recipe_button = fake.messages[
            (GROUP, fake.sent("sendPhoto", GROUP)[0].result["message_id"])
        ]
        fake.press_button(USER_ID + 1, recipe_button, f"recipe:{run.id}")  # anyone in the group
        await tg.wait_handled(3)
        recipe = await fake.wait_for_call(
            "sendMessage", lambda c: (c.text or "").startswith("📜 Recipe")
        )
        assert recipe.chat_id == GROUP and run.chat.chat_id == str(GROUP)
        command = (recipe.text or "").splitlines()[-1]
        assert command.startswith("/txt2img a fox steps=12 width=720 height=360 seed=")
        text = recipe.text or ""
        offset = utf16(text[: text.index(command)])
        assert {"type": "code", "offset": offset, "length": len(command)} in (
            recipe.params["entities"]
        )


async def test_runs_with_ids_to_tap_and_buttons_to_show_each_again(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        command = fake.send_text(USER_ID, USER_ID, "/txt2img a fox width=32 height=32")
        await tg.wait_handled(1)
        run = await tg.run_for(command)
        await tg.finish(run)
        fake.send_text(USER_ID, USER_ID, "/runs")
        await tg.wait_handled(2)
        listing = await fake.wait_for_call(
            "sendMessage", lambda c: (c.text or "").startswith("Your last runs")
        )
        text = listing.text or ""
        assert text.startswith("Your last runs:\n" + run.id)
        assert {"type": "code", "offset": text.index(run.id), "length": len(run.id)} in (
            listing.params["entities"]
        )
        assert listing.buttons == [(f"🖼 {run.id[:6]}", f"show:{run.id}")]

        fake.press_button(
            USER_ID, fake.messages[(USER_ID, listing.result["message_id"])], f"show:{run.id}"
        )
        await tg.wait_handled(3)
        await fake.wait_for(lambda: len(fake.sent("sendPhoto")) == 2)
        again = fake.sent("sendPhoto")[-1]
        assert again.reply_to == listing.result["message_id"]
        assert again.buttons == fake.sent("sendPhoto")[0].buttons
        fake.send_text(USER_ID, USER_ID, f"/show {run.id[:6]}")
        await tg.wait_handled(4)
        await fake.wait_for(lambda: len(fake.sent("sendPhoto")) == 3)


async def test_private_chats_get_a_hint_groups_stay_quiet(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        for message in (
            fake.send_text(USER_ID, USER_ID, "draw me a cat"),
            fake.send_text(USER_ID, USER_ID, "/"),
        ):
            await fake.wait_for(lambda m=message: replies_to(fake, m))
            assert replies_to(fake, message)[0].text == (
                "I answer commands. Try /txt2img, or see /workflows and /help."
            )
        photo = fake.send_photo(USER_ID, USER_ID, png_bytes())
        await fake.wait_for(lambda: replies_to(fake, photo))
        assert (replies_to(fake, photo)[0].text or "").startswith(
            "To use this image: send it again with a command as its caption, e.g. /img2img"
        )
        fake.send_text(GROUP, USER_ID, "just chatting")
        fake.send_photo(GROUP, USER_ID, png_bytes())
        fake.send_text(GROUP, USER_ID, "/workflows")
        await tg.wait_handled(4)
        assert len(tg.chat.handled) == 4  # nothing but the command in the group
        assert not fake.sent("getFile")


async def test_long_bad_input_gets_one_short_message(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        command = fake.send_text(USER_ID, USER_ID, "/txt2img a fox style=" + "z" * 4000)
        await tg.wait_handled(1)
        await fake.wait_for(lambda: replies_to(fake, command))
        answers = replies_to(fake, command)
        assert len(answers) == 1 and len(answers[0].text or "") < 300
        assert "…" in (answers[0].text or "")


async def test_ban_by_reply_and_by_username_and_never_a_ban_that_does_not_hold(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path, admin_ids=ADMINS) as w,
        telegram_bot(w, fake) as tg,
    ):
        fake.add_user(USER_ID, "Ann", username="AnnDraws")
        spam = fake.send_text(GROUP, USER_ID, "/txt2img spam spam spam width=32 height=32")
        await tg.wait_handled(1)
        fake.send_text(GROUP, ADMIN_ID, "/ban", reply_to=spam)
        banned = await tg.wait_handled(2)
        assert banned is not None and banned.text == f"telegram:{USER_ID} is now banned."
        fake.send_text(GROUP, USER_ID, "/workflows")
        blocked = await tg.wait_handled(3)
        assert blocked is not None and blocked.text == "You are not allowed to use this bot."

        fake.send_text(ADMIN_ID, ADMIN_ID, "/unban @anndraws")
        lifted = await tg.wait_handled(4)
        assert lifted is not None
        assert lifted.text == f"@anndraws (telegram:{USER_ID}) may use the bot again."
        fake.send_text(ADMIN_ID, ADMIN_ID, "/ban @nobody_here")
        unknown = await tg.wait_handled(5)
        assert unknown is not None and unknown.text.startswith("I have not seen @nobody_here")
        assert not await tg.engine.container.users.is_banned("telegram:@nobody_here")
        status = replies_to(fake, spam)[0]
        fake.send_text(
            GROUP, ADMIN_ID, "/ban", reply_to=fake.messages[(GROUP, status.result["message_id"])]
        )
        of_the_bot = await tg.wait_handled(6)
        assert of_the_bot is not None and of_the_bot.text == "Usage: /ban <user id>"
        fake.send_text(GROUP, USER_ID + 1, "/ban", reply_to=spam)
        not_admin = await tg.wait_handled(7)
        assert not_admin is not None and not_admin.text.startswith("Not allowed")


async def test_a_ban_by_reply_to_an_admin_is_refused_and_does_not_happen(
    mongo_uri: str, tmp_path: Path
) -> None:
    other_admin = ADMIN_ID + 7
    admins = ADMINS | {f"telegram:{other_admin}"}
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path, admin_ids=admins) as w,
        telegram_bot(w, fake) as tg,
    ):
        fake.add_user(other_admin, "Olga")
        theirs = fake.send_text(GROUP, other_admin, "/workflows")
        await tg.wait_handled(1)
        fake.send_text(GROUP, ADMIN_ID, "/ban", reply_to=theirs)
        refused = await tg.wait_handled(2)
        assert refused is not None and refused.text == "Admins cannot be banned."
        assert not await tg.engine.container.users.is_banned(f"telegram:{other_admin}")
        fake.send_text(GROUP, other_admin, "/workflows")
        still = await tg.wait_handled(3)
        assert still is not None and still.text.startswith("Workflows:")


async def test_help_lists_the_admin_commands_to_admins_only(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path, admin_ids=ADMINS) as w,
        telegram_bot(w, fake) as tg,
    ):
        fake.send_text(ADMIN_ID, ADMIN_ID, "/help")
        admin_help = await tg.wait_handled(1)
        assert admin_help is not None
        admin_part = admin_help.text.split("\n\nAdmin commands:\n", 1)[1]
        assert admin_part.splitlines()[:2] == [
            "/refresh — discover the workflows again",
            "/stats — runs and costs; GPU time and spend by workflow, user and day",
        ]
        assert "/ban <user id> — ban a user (or reply to their message)" in admin_part
        assert (
            "/grant <user> <credits> (or reply to them with /grant <credits>) — give" in admin_part
        )

        fake.send_text(USER_ID, USER_ID, "/help")
        user_help = await tg.wait_handled(2)
        assert user_help is not None and user_help.text.startswith("Commands:")
        assert "Admin commands:" not in user_help.text and "/ban" not in user_help.text


async def test_a_language_without_a_catalog_gets_the_default_language(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path, default_language="es") as w,
        telegram_bot(w, fake) as tg,
    ):
        fake.add_user(USER_ID, "Hans", language_code="de")
        fake.send_text(USER_ID, USER_ID, "/workflows")
        await tg.wait_handled(1)
        listing = await fake.wait_for_call("sendMessage")
        assert (listing.text or "").startswith("Flujos:\n")
        command = fake.send_text(USER_ID, USER_ID, "/txt2img ein Fuchs width=32 height=32")
        await tg.wait_handled(2)
        run = await tg.run_for(command)
        status = replies_to(fake, command)[0]
        assert status.buttons == [("✖ Cancelar", f"cancel:{run.id}")]


async def test_a_cost_not_known_yet_is_said_in_the_users_language(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path, credits_enabled=False) as w,
        telegram_bot(w, fake) as tg,
    ):
        fake.add_user(USER_ID, "Аня", language_code="ru")
        command = fake.send_text(USER_ID, USER_ID, "/txt2img лиса width=32 height=32")
        await tg.wait_handled(1)
        run = await tg.run_for(command)  # under way: no cost yet
        fake.send_text(USER_ID, USER_ID, "/usage")
        await tg.wait_handled(2)
        usage = await fake.wait_for_call("sendMessage", lambda c: "Ваши" in (c.text or ""))
        assert (usage.text or "").startswith("Ваши последние запуски и их стоимость:")
        assert (usage.text or "").splitlines()[1].startswith(f"{run.id} · txt2img · ")
        assert (usage.text or "").splitlines()[1].endswith(" · н/д")
