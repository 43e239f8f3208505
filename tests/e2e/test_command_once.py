"""A command Telegram delivers more than once (a webhook retried after a crash, an update
redelivered) starts one run and shows one status message."""

from __future__ import annotations

from pathlib import Path

from adapters.mongo.embedded import EmbeddedMongo, free_port
from tests.e2e.harness import world
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_e2e import USER_ID, telegram_bot
from tests.fakes.telegram_objects import JsonDict

CHAT = 5


def update_id_of(fake: FakeTelegram, message: JsonDict) -> int:
    return next(i for i, u in fake.update_log.items() if u.get("message") == message)


async def test_a_command_and_a_button_delivered_twice_run_once(
    mongo_uri: str, tmp_path: Path
) -> None:
    """The same update again is ignored (its update_id was handled); the same message in a new
    update is handled and gets the run it made the first time."""
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake) as tg,
    ):
        command = fake.send_text(CHAT, USER_ID, "/txt2img a fox width=32 height=32")
        await tg.wait_handled(1)
        fake.redeliver(update_id_of(fake, command))  # the same update again
        fake.repeat_message(command)  # the same message in a new update
        # A chat's updates are taken in order: the repeat comes after the redelivered one.
        await tg.wait_handled(2)
        run = await tg.run_for(command)  # asserts there is exactly one
        assert len(fake.sent("sendMessage", CHAT)) == 1  # one status message

        await tg.finish(run)
        photo = fake.sent("sendPhoto", CHAT)[0]
        fake.press_button(USER_ID, photo.result, f"rerun:{run.id}")
        await tg.wait_handled(3)
        press = max(fake.update_log)
        fake.redeliver(press)
        fake.send_text(CHAT, USER_ID, "/runs")
        await tg.wait_handled(4)
        assert [type(op).__name__ for op, _, _ in tg.chat.handled][2:] == ["Rerun", "ListRuns"]
        runs = await tg.engine.container.runs_store.recent(10)
        reruns = [r for r in runs if r.rerun_of == run.id]
        assert len(reruns) == 1 and len(runs) == 2


async def test_a_webhook_is_answered_after_the_command_is_recorded(
    mongo_uri: str, tmp_path: Path
) -> None:
    """Killed before answering, the bot makes Telegram post again; answered, nothing is lost."""
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path) as w,
        telegram_bot(w, fake, webhook=True) as tg,
    ):
        command = fake.send_text(CHAT, USER_ID, "/txt2img a fox width=32 height=32")
        update = fake.update_log[update_id_of(fake, command)]
        assert await fake.post_update(update) == 200
        first = await tg.run_for(command)  # recorded before the 200, no waiting

        assert await fake.post_update(update) == 200  # Telegram's retry: ignored
        assert (await tg.run_for(command)).id == first.id
        assert len(tg.chat.handled) == 1
        assert len(fake.sent("sendMessage", CHAT)) == 1


async def test_a_command_that_finds_the_database_down_is_taken_when_telegram_posts_it_again(
    tmp_path: Path,
) -> None:
    """Answered with an error (not an apology in chat), Telegram posts the update again: once
    the database is back, the command runs once and is acknowledged once."""
    mongo = EmbeddedMongo(tmp_path / "db", port=free_port())
    uri = await mongo.start()
    try:
        async with (
            FakeTelegram() as fake,
            world(uri, tmp_path, mongodb_timeout_seconds=0.5) as w,
            telegram_bot(w, fake, webhook=True) as tg,
        ):
            await mongo.stop()
            command = fake.send_text(CHAT, USER_ID, "/txt2img a fox width=32 height=32")
            update = fake.update_log[update_id_of(fake, command)]
            assert await fake.post_update(update) == 503
            assert fake.sent("sendMessage", CHAT) == []

            await mongo.start()  # the driver may take a moment to see it back: Telegram retries
            assert await fake.post_update_with_retries(update) == 200
            run = await tg.run_for(command)
            assert run.backend_run_id is not None
            assert len(fake.sent("sendMessage", CHAT)) == 1
    finally:
        await mongo.stop()
