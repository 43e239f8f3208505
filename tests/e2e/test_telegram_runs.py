"""A Telegram user runs workflows end to end: PTB over HTTP to the fake Bot API, the simulator
as the backend, the embedded database in between."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from adapters.simulator import Route
from core.chat.operations import ListWorkflows
from core.models import RunStatus
from tests.e2e.harness import world
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_e2e import USER_ID, telegram_bot
from tests.fakes.telegram_kit import png_bytes, result_buttons

GROUP = -1001234
TOPIC = 77


async def test_command_runs_to_a_photo_in_the_same_topic(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        command = fake.send_text(
            GROUP,
            USER_ID,
            f"/txt2img@{fake.username} a red fox, watercolor seed=7 width=32 height=32",
            thread_id=TOPIC,
        )
        assert await tg.wait_handled(1) is None
        run = await tg.last_run()
        assert run.inputs["prompt"] == "a red fox, watercolor" and run.inputs["seed"] == 7
        assert run.chat.chat_id == str(GROUP) and run.chat.thread_id == str(TOPIC)
        assert run.chat.message_id == str(command["message_id"])
        assert run.chat.user_id == str(USER_ID)

        status = fake.sent("sendMessage", GROUP)[0]
        assert (status.thread_id, status.reply_to) == (TOPIC, command["message_id"])
        assert run.id in (status.text or "")
        assert status.buttons == [("✖ Cancel", f"cancel:{run.id}")]
        status_id = status.result["message_id"]

        for _ in range(4):  # queued, started, running 20 %, 40 %
            await tg.advance(run)
        edit = fake.sent("editMessageText")[-1]
        assert edit.message_id == status_id
        assert "▰▰▰▰▱▱▱▱▱▱ 40%" in (edit.text or "")
        assert edit.buttons == [("✖ Cancel", f"cancel:{run.id}")]

        await tg.finish(run)
        photo = fake.sent("sendPhoto", GROUP)[0]
        assert (photo.thread_id, photo.reply_to) == (TOPIC, command["message_id"])
        assert photo.files["photo"].size > 0
        assert photo.text is not None and "✅ Done · txt2img" in photo.text
        assert "💰" in photo.text and "⏱" in photo.text
        assert photo.buttons == result_buttons(run.id)
        final = fake.sent("editMessageText")[-1]
        assert final.message_id == status_id and "✅ Done" in (final.text or "")
        assert final.buttons == []
        stored = await tg.last_run()
        assert stored.status is RunStatus.SUCCESS and stored.progress_message_id == str(status_id)


async def test_batch_comes_as_an_album(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        fake.send_text(5, USER_ID, "/txt2img three cats batch_size=3 width=32 height=32")
        await tg.wait_handled(1)
        run = await tg.last_run()
        await tg.finish(run)

        album = fake.sent("sendMediaGroup", 5)[0]
        assert len(album.media) == 3
        assert all(item["type"] == "photo" and item["upload"].size > 0 for item in album.media)
        assert "✅ Done" in album.media[0]["caption"]
        assert not fake.sent("sendPhoto")
        # An album carries no buttons: the final status message offers them.
        final = fake.sent("editMessageText")[-1]
        assert final.buttons == result_buttons(run.id)


async def test_output_over_the_photo_limit_comes_as_a_document(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        fake.send_text(5, USER_ID, "/txt2img static noise width=2048 height=2048")
        await tg.wait_handled(1)
        await tg.finish(await tg.last_run())

        document = fake.sent("sendDocument", 5)[0]
        assert document.files["document"].size > 10_000_000
        assert not fake.sent("sendPhoto")


async def test_output_over_the_upload_limit_comes_as_a_link(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake, upload_max_bytes=100) as tg,
    ):
        fake.send_text(5, USER_ID, "/txt2img a big one width=32 height=32")
        await tg.wait_handled(1)
        run = await tg.last_run()
        await tg.finish(run)

        assert not fake.sent("sendPhoto") and not fake.sent("sendDocument")
        link = fake.sent("sendMessage", 5)[-1]
        assert "Too large to send here" in (link.text or "")
        assert w.sim.root_url in (link.text or "")
        assert link.buttons == result_buttons(run.id)


async def test_image_input_by_caption_by_reply_and_as_document(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        first = fake.send_photo(5, USER_ID, png_bytes(16, 16), caption="/img2img make it blue")
        await tg.wait_handled(1)
        by_caption = await tg.run_for(first)
        assert by_caption.workflow == "img2img"
        assert str(by_caption.inputs["input_image"]).startswith(w.sim.root_url)

        picture = fake.send_photo(5, USER_ID, png_bytes(16, 16, "blue"))
        hint = await tg.wait_handled(2)  # a photo alone in a private chat: how to use it
        assert hint is not None and hint.text.startswith("To use this image:")
        second = fake.send_text(5, USER_ID, "/upscale scale=3", reply_to=picture)
        assert await tg.wait_handled(3) is None
        by_reply = await tg.run_for(second)
        assert by_reply.workflow == "upscale" and by_reply.inputs["scale"] == 3
        await tg.finish(by_reply)
        assert fake.sent("sendPhoto", 5)

        third = fake.send_document(5, USER_ID, png_bytes(16, 16), caption="/img2img as a file")
        assert await tg.wait_handled(4) is None
        as_document = await tg.run_for(third)
        assert as_document.workflow == "img2img"
        wanted = [
            first["photo"][-1]["file_id"],
            picture["photo"][-1]["file_id"],
            third["document"]["file_id"],
        ]
        assert [c.params["file_id"] for c in fake.sent("getFile")] == wanted

        # Replying to a photo with a text-only command: the photo is not meant as input.
        fourth = fake.send_text(5, USER_ID, "/txt2img a fox like this", reply_to=picture)
        assert await tg.wait_handled(5) is None
        text_only = await tg.run_for(fourth)
        assert text_only.workflow == "txt2img" and "input_image" not in text_only.inputs
        assert len(fake.sent("getFile")) == 3


async def test_images_are_checked_before_anything_is_uploaded(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path, max_input_image_mb=1) as w,
        telegram_bot(w, fake) as tg,
    ):
        fake.send_photo(5, USER_ID, png_bytes(), caption="/img2img huge", file_size=5_000_000)
        refusal = await fake.wait_for_call("sendMessage", lambda c: "too large" in (c.text or ""))
        assert "at most 1 MB" in (refusal.text or "")
        assert not fake.sent("getFile")

        fake.send_document(
            5, USER_ID, b"%PDF-1.7 not an image", file_name="x.png", caption="/img2img nope"
        )
        refusal = await fake.wait_for_call(
            "sendMessage", lambda c: "not an image" in (c.text or "")
        )
        assert refusal.chat_id == 5
        assert await tg.engine.container.runs_store.recent(5) == []
        assert w.sim.faults.hits[Route.UPLOAD] == 0
        assert [media for _, media, _ in tg.chat.handled] == [1, 1]
        assert len(fake.sent("getFile")) == 1  # only the small one was downloaded


async def test_a_banned_users_image_is_never_downloaded(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        await tg.engine.container.users.ban(f"telegram:{USER_ID}", "test", w.clock.now())
        fake.send_photo(5, USER_ID, png_bytes(), caption="/img2img make it blue")
        refused = await tg.wait_handled(1)
        assert refused is not None and refused.text == "You are not allowed to use this bot."
        assert not fake.sent("getFile")
        assert w.sim.runs.all() == []


async def test_bad_arguments_get_one_specific_reply(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        command = fake.send_text(5, USER_ID, "/txt2img a fox steps=500 style=cubism")
        reply = await tg.wait_handled(1)
        assert reply is not None
        answer = await fake.wait_for_call(
            "sendMessage", lambda c: c.reply_to == command["message_id"]
        )
        assert answer.text == reply.text
        assert "steps" in reply.text and "style" in reply.text
        fake.send_text(5, USER_ID, "/nosuchthing")
        unknown = await tg.wait_handled(2)
        assert unknown is not None and "/nosuchthing" in unknown.text
        assert await tg.engine.container.runs_store.recent(5) == []
        assert w.sim.runs.all() == []


async def test_commands_for_other_bots_and_plain_text_are_ignored(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        fake.send_text(GROUP, USER_ID, "/txt2img@another_bot a fox")
        fake.send_text(GROUP, USER_ID, "just chatting")
        fake.send_text(GROUP, USER_ID, f"/workflows@{fake.username.upper()}")
        reply = await tg.wait_handled(1)
        assert reply is not None and reply.text.startswith("Workflows:")
        assert [type(op) for op, _, _ in tg.chat.handled] == [ListWorkflows]
        assert w.sim.runs.all() == []


async def test_the_token_never_reaches_the_logs(
    mongo_uri: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        message = fake.send_photo(5, USER_ID, png_bytes(16, 16), caption="/img2img blue")
        await tg.wait_handled(1)
        await tg.finish(await tg.run_for(message))
        assert fake.sent("sendPhoto")
    secret = fake.token.split(":", 1)[1]
    assert caplog.records and secret not in caplog.text
