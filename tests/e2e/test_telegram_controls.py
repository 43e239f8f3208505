"""Buttons, admin commands, the command menu, webhook mode, restarts and rate limits."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from adapters.simulator import Route
from adapters.simulator import app as simulator_app
from core.models import DeliveryState, Run, RunStatus
from tests.e2e.harness import world
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_calls import Call
from tests.fakes.telegram_e2e import ADMIN_ID, USER_ID, WEBHOOK_PATH, TelegramBot, telegram_bot
from tests.fakes.telegram_kit import result_buttons
from tests.fakes.telegram_objects import JsonDict
from tests.fakes.waiting import eventually

ADMINS = frozenset({"console:local", f"telegram:{ADMIN_ID}"})
BUILTINS = [
    "start",
    "help",
    "workflows",
    "status",
    "cancel",
    "runs",
    "show",
    "recipe",
    "balance",
    "usage",
    "queue",
    "buy",
]
MENU = [*BUILTINS, "img2img", "txt2img", "upscale"]
FOLLOW_UPS = "workflows:\n  txt2img:\n    upscale_with: upscale\n    vary_with: img2img\n"
ADMIN_MENU = ["refresh", "stats", "redeliver", "ban", "unban", "grant", "refund"]


async def a_running_run(tg: TelegramBot, fake: FakeTelegram) -> tuple[JsonDict, Run, Call]:
    """A slow run under way in chat 5: its command, the run, and its status message's send."""
    command = fake.send_text(5, USER_ID, "/txt2img a slow one width=32 height=32")
    await tg.wait_handled(1)
    run = await tg.run_for(command)
    await tg.advance(run)
    return command, run, fake.sent("sendMessage", 5)[0]


async def test_cancel_button_stops_the_run(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        command, run, status = await a_running_run(tg, fake)
        status_message = fake.messages[(5, status.result["message_id"])]

        # Someone else's run reads as no run at all, whether typed or pressed.
        fake.press_button(USER_ID + 1, status_message, f"cancel:{run.id}")
        refused = await tg.wait_handled(2)
        assert refused is not None and refused.text == f"I know no run {run.id} of yours."
        await fake.wait_for_call("answerCallbackQuery", lambda c: "I know no" in c.params["text"])

        fake.press_button(USER_ID, status_message, f"cancel:{run.id}")
        await tg.wait_handled(3)
        answer = await fake.wait_for_call("answerCallbackQuery", count=2)
        assert answer.params["text"] == f"Run {run.id}: 🚫 Cancelled."
        stored = await tg.run_for(command)
        assert stored.status is RunStatus.CANCELLED
        # Announced once: the status message becomes the notice, with its buttons (the edit
        # is the delivery's, after the button's answer).
        await fake.wait_for_call("editMessageText", lambda c: "Cancelled by" in str(c.params))
        assert fake.sent("sendMessage", 5) == [status]
        notice = fake.history(5, status.result["message_id"]).final
        assert "🚫 Cancelled" in (notice.text or "") and "Cancelled by Ann" in (notice.text or "")
        assert notice.buttons == result_buttons(run.id)


async def test_who_cancelled_is_said_when_the_backends_webhook_beats_its_answer(
    mongo_uri: str, tmp_path: Path
) -> None:
    """ComfyDeploy cancels the run, sends its `cancelled` webhook, then answers: the run's end
    is recorded from the webhook, and still says who cancelled it."""
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        command, run, status = await a_running_run(tg, fake)
        status_message = fake.messages[(5, status.result["message_id"])]
        answer = w.sim.faults.hold_reply(Route.CANCEL)

        fake.press_button(USER_ID, status_message, f"cancel:{run.id}")

        async def ended_by_the_webhook() -> bool:
            return (await tg.run_for(command)).status is RunStatus.CANCELLED

        await eventually(ended_by_the_webhook, within=10, every=0.02)
        answer.set()
        await tg.wait_handled(2)
        await tg.engine.settle()
        notice = fake.history(5, status.result["message_id"]).final
        assert "🚫 Cancelled" in (notice.text or "") and "Cancelled by Ann" in (notice.text or "")


async def test_failed_run_says_why(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        command = fake.send_text(5, USER_ID, "/txt2img this will FAIL width=32 height=32")
        await tg.wait_handled(1)
        await tg.finish(await tg.run_for(command))
        status = fake.sent("sendMessage", 5)
        assert len(status) == 1 and status[0].reply_to == command["message_id"]
        notice = fake.history(5, status[0].result["message_id"]).final
        assert "❌ Failed" in (notice.text or "")
        assert notice.buttons == result_buttons((await tg.run_for(command)).id)
        assert not fake.sent("sendPhoto")


async def test_rerun_button_works_after_a_restart(mongo_uri: str, tmp_path: Path) -> None:
    async with FakeTelegram() as fake, world(mongo_uri, tmp_path) as w:
        async with telegram_bot(w, fake) as first:
            command = fake.send_text(5, USER_ID, "/txt2img a red fox seed=3 width=32 height=32")
            await first.wait_handled(1)
            original = await first.run_for(command)
            await first.finish(original)
        photo_message = fake.sent("sendPhoto", 5)[0].result

        async with telegram_bot(w, fake) as second:
            fake.press_button(USER_ID, photo_message, f"rerun:{original.id}")
            assert await second.wait_handled(1) is None
            answer = await fake.wait_for_call("answerCallbackQuery")
            assert answer.params["text"] == "Running it again…"
            rerun = await second.run_for(photo_message)
            assert rerun.rerun_of == original.id and rerun.inputs == original.inputs
            status = fake.sent("sendMessage", 5)[-1]
            assert status.reply_to == photo_message["message_id"]
            assert status.buttons == [("✖ Cancel", f"cancel:{rerun.id}")]
            await second.finish(rerun)
            assert len(fake.sent("sendPhoto", 5)) == 2
            # The new buttons too: a reroll after the restart draws a new seed.
            w.clock.advance(1)
            fake.press_button(USER_ID, photo_message, f"reroll:{original.id}")
            assert await second.wait_handled(2) is None
            rerolled = await second.last_run()
            assert rerolled.rerun_of == original.id and rerolled.id != rerun.id
            assert rerolled.inputs["seed"] != original.inputs["seed"] == 3


async def test_upscale_and_vary_buttons_work_after_a_restart(
    mongo_uri: str, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(FOLLOW_UPS)
    async with FakeTelegram() as fake, world(mongo_uri, tmp_path, catalog_file=catalog) as w:
        async with telegram_bot(w, fake) as first:
            command = fake.send_text(5, USER_ID, "/txt2img a heron seed=3 width=32 height=32")
            await first.wait_handled(1)
            original = await first.run_for(command)
            await first.finish(original)
        photo = fake.sent("sendPhoto", 5)[0]
        assert photo.buttons == result_buttons(original.id, "upscale", "vary")

        async with telegram_bot(w, fake) as second:
            w.clock.advance(1)
            fake.press_button(USER_ID, photo.result, f"upscale:{original.id}")
            assert await second.wait_handled(1) is None
            upscaled = await second.last_run()
            assert upscaled.workflow == "upscale" and upscaled.id != original.id
            assert "/inputs/" in str(upscaled.inputs["input_image"])  # the image, uploaded
            await second.finish(upscaled)
            assert (await second.last_run()).status is RunStatus.SUCCESS
            big = fake.sent("sendPhoto", 5)[-1]
            assert big.buttons == [
                ("🔁 Rerun", f"rerun:{upscaled.id}"),
                ("📜 Recipe", f"recipe:{upscaled.id}"),
            ]
            assert photo_size(big) == (64, 64)  # the upscaler's default scale is 2

            w.clock.advance(1)
            fake.press_button(USER_ID, photo.result, f"vary:{original.id}")
            assert await second.wait_handled(2) is None
            varied = await second.last_run()
            assert varied.workflow == "img2img" and varied.inputs["prompt"] == "a heron"
            await second.finish(varied)
            assert len(fake.sent("sendPhoto", 5)) == 3


def photo_size(call: Call) -> tuple[int, int]:
    upload = call.upload("photo")
    assert upload is not None
    with Image.open(io.BytesIO(upload.data)) as image:
        return image.size


async def test_result_reaches_the_chat_across_a_restart(mongo_uri: str, tmp_path: Path) -> None:
    async with FakeTelegram() as fake, world(mongo_uri, tmp_path) as w:
        async with telegram_bot(w, fake) as first:
            command = fake.send_text(-100, USER_ID, "/txt2img owl width=32 height=32", thread_id=9)
            await first.wait_handled(1)
            run = await first.run_for(command)
        assert run.backend_run_id is not None
        w.sim.webhooks.drop()
        await w.sim.finish(run.backend_run_id)  # while no bot is running

        async with telegram_bot(w, fake) as second:
            await second.engine.container.watch.reconcile()
            await second.engine.settle()
            photo = await fake.wait_for_call("sendPhoto")
            assert (photo.chat_id, photo.thread_id) == (-100, 9)
            assert photo.reply_to == command["message_id"]


async def test_admin_commands_are_for_admins_only(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path, admin_ids=ADMINS) as w,
        telegram_bot(w, fake) as tg,
    ):
        for number, command in enumerate(["/stats", "/runs all", "/refresh", "/ban 9"], start=1):
            fake.send_text(5, USER_ID, command)
            reply = await tg.wait_handled(number)
            assert reply is not None and reply.text.startswith("Not allowed"), command

        fake.send_text(1, ADMIN_ID, "/stats")
        stats = await tg.wait_handled(5)
        assert stats is not None and "Workflows: 3" in stats.text
        fake.send_text(1, ADMIN_ID, f"/ban {USER_ID}")
        banned = await tg.wait_handled(6)
        assert banned is not None and banned.text == f"telegram:{USER_ID} is now banned."
        fake.send_text(5, USER_ID, "/txt2img a fox")
        refused = await tg.wait_handled(7)
        assert refused is not None and "not allowed" in refused.text
        fake.send_text(1, ADMIN_ID, f"/unban {USER_ID}")
        await tg.wait_handled(8)
        unbanned = await fake.wait_for_call("sendMessage", lambda c: c.chat_id == 1, count=3)
        assert unbanned.text == f"telegram:{USER_ID} may use the bot again."
        assert await tg.engine.container.runs_store.recent(5) == []


async def test_menu_follows_the_catalog_and_is_sent_only_when_changed(
    mongo_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeTelegram() as fake, world(mongo_uri, tmp_path, admin_ids=ADMINS) as w:
        async with telegram_bot(w, fake):
            pass
        # One menu per language, the same again with the admin commands for the admin's chat.
        assert len(fake.sent("setMyCommands")) == 6
        assert fake.menu() == MENU  # built-ins, then every workflow, image ones too
        assert fake.menu_for(USER_ID, language_code="ru") == MENU
        assert fake.menu_for(ADMIN_ID) == [*MENU, *ADMIN_MENU]
        assert fake.menu_for(ADMIN_ID, language_code="es") == [*MENU, *ADMIN_MENU]
        assert fake.menu_for(-100, USER_ID) == MENU  # a group: the default menu

        async with telegram_bot(w, fake) as tg:
            assert len(fake.sent("setMyCommands")) == 6  # unchanged: not sent again

            sketch = dataclasses.replace(
                simulator_app.DEPLOYMENTS[0],
                id="5b0c5bd8-0000-4000-8000-00000000abcd",
                workflow_name="Sketch Pad!",
                description="Quick sketches",
            )
            monkeypatch.setattr(simulator_app, "DEPLOYMENTS", (*simulator_app.DEPLOYMENTS, sketch))
            fake.send_text(1, ADMIN_ID, "/refresh")
            reply = await tg.wait_handled(1)
            assert reply is not None and reply.text.startswith("Catalog updated")
            await fake.wait_for(lambda: len(fake.sent("setMyCommands")) == 12)
            flows = ["sketch_pad", "img2img", "txt2img", "upscale"]  # by name: "Sketch Pad!"
            assert fake.menu() == [*BUILTINS, *flows]

            fake.send_text(1, ADMIN_ID, "/refresh")
            reply = await tg.wait_handled(2)
            assert reply is not None and "unchanged" in reply.text
            assert len(fake.sent("setMyCommands")) == 12
            assert [c.command for c in await tg.adapter.application.bot.get_my_commands()] == (
                fake.menu()
            )


async def test_menus_are_in_each_language_and_mark_image_workflows(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path, admin_ids=ADMINS) as w,
        telegram_bot(w, fake),
    ):
        english = _descriptions(fake, {"type": "default"}, "")
        russian = _descriptions(fake, {"type": "default"}, "ru")
        spanish = _descriptions(fake, {"type": "default"}, "es")
        assert english["help"] == "How to use a command: /help <command>"
        assert russian["help"].startswith("Как пользоваться командой")
        assert spanish["help"].startswith("Cómo usar un comando")
        assert english["img2img"] == "🖼 Image to image (simulated) (needs an image)"
        assert english["txt2img"] == "Text to image (simulated)"
        assert "🖼" in russian["img2img"] and "🖼" in spanish["upscale"]
        admin = _descriptions(fake, {"type": "chat", "chat_id": ADMIN_ID}, "")
        assert admin["ban"].startswith("Admin: ban a user")


def _descriptions(fake: FakeTelegram, scope: dict[str, object], language: str) -> dict[str, str]:
    call = next(
        c
        for c in fake.sent("setMyCommands")
        if (c.params.get("scope") or {"type": "default"}) == scope
        and (c.params.get("language_code") or "") == language
    )
    return {c["command"]: c["description"] for c in call.params["commands"]}


async def test_webhook_mode_checks_the_secret(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake, webhook=True) as tg,
    ):
        registration = fake.sent("setWebhook")[0]
        assert registration.params["url"].endswith(WEBHOOK_PATH)
        assert registration.params["secret_token"] == "s3cret-token"
        assert not fake.sent("getUpdates") and not fake.sent("deleteWebhook")

        message = fake.send_text(5, USER_ID, "/workflows")
        url = f"http://127.0.0.1:{w.settings.http_port}{WEBHOOK_PATH}"
        async with aiohttp.ClientSession() as session:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                body = {"update_id": 999, "message": message}
                async with session.post(url, json=body, headers=headers) as response:
                    assert response.status == 403
        assert tg.chat.handled == []

        assert await fake.deliver_webhook({"message": message}) == 200
        reply = await tg.wait_handled(1)
        assert reply is not None and "txt2img" in reply.text
        assert len(tg.chat.handled) == 1


async def test_rate_limited_result_is_retried_after_retry_after(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        command = fake.send_text(5, USER_ID, "/txt2img a fox width=32 height=32")
        await tg.wait_handled(1)
        fake.fail_next("sendPhoto", retry_after=30)
        await tg.finish(await tg.run_for(command))

        waiting = await tg.run_for(command)
        assert waiting.delivery is DeliveryState.PENDING and not fake.sent("sendPhoto")
        assert waiting.delivery_due_at is not None
        assert waiting.delivery_due_at >= w.clock.now() + timedelta(seconds=30)

        assert await tg.engine.container.delivery.deliver_due() == 0  # not due yet
        w.clock.advance(31)
        assert await tg.engine.container.delivery.deliver_due() == 1
        await tg.engine.settle()
        assert len(fake.sent("sendPhoto")) == 1
        assert (await tg.run_for(command)).delivery is DeliveryState.DELIVERED
