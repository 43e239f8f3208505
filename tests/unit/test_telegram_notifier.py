"""TelegramNotifier against the fake Bot API: what a status message and a result look like."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from adapters.telegram.notifier import TelegramNotifier
from adapters.telegram.wording import SYNTAX
from core.actions import Action, ActionKind
from core.chat.text_render import TextRenderer
from core.errors import SendFailed
from core.models import (
    ChatRef,
    OutputKind,
    PartState,
    ProgressView,
    ResultFile,
    Run,
    RunResult,
    RunStatus,
)
from tests.fakes.journal import MemoryPartLog
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_kit import bot_on, png_bytes

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CHAT = ChatRef(platform="telegram", chat_id="-100", user_id="7", thread_id="42", message_id="3")


def make_run(**changes: object) -> Run:
    run = Run(
        id="abc123",
        workflow="txt2img",
        deployment_id="d1",
        chat=CHAT,
        created_at=T0,
        updated_at=T0,
    )
    return run.model_copy(update=changes)


def done_run(**changes: object) -> Run:
    return make_run(
        status=RunStatus.SUCCESS,
        queued_at=T0,
        ended_at=T0 + timedelta(seconds=12),
        cost_usd=0.0123,
        **changes,
    )


RERUN = (Action(ActionKind.RERUN, "abc123"),)


def result(run: Run, *files: ResultFile, texts: tuple[str, ...] = ()) -> RunResult:
    return RunResult(run=run, files=files, texts=texts, actions=RERUN)


def result_file(
    tmp_path: Path,
    name: str,
    size: int,
    kind: OutputKind = OutputKind.IMAGE,
    mime: str = "image/png",
) -> ResultFile:
    path = tmp_path / name
    path.write_bytes(png_bytes() if size == 0 else b"\0" * size)
    return ResultFile(
        kind=kind,
        filename=name,
        mime=mime,
        size=path.stat().st_size,
        path=str(path),
        url=f"https://cdn.example/{name}",
    )


@asynccontextmanager
async def notifier_on(fake: FakeTelegram) -> AsyncIterator[TelegramNotifier]:
    async with bot_on(fake) as bot:
        notifier = TelegramNotifier(bot, TextRenderer(SYNTAX))
        notifier.ready = True
        yield notifier


async def test_status_message_is_created_then_edited() -> None:
    async with FakeTelegram() as fake, notifier_on(fake) as notifier:
        run = make_run(status=RunStatus.QUEUED)
        created = await notifier.show_progress(
            ProgressView(run=run, status=RunStatus.QUEUED, progress=0, queue_position=2)
        )
        sent = fake.sent("sendMessage")[0]
        assert created == str(sent.result["message_id"])
        assert (sent.chat_id, sent.thread_id, sent.reply_to) == (-100, 42, 3)
        assert "Position in queue: 3" in (sent.text or "")
        assert sent.buttons == [("✖ Cancel", "cancel:abc123")]

        running = run.model_copy(update={"progress_message_id": created})
        view = ProgressView(
            run=running, status=RunStatus.RUNNING, progress=0.5, live_status="Executing KSampler"
        )
        assert await notifier.show_progress(view) is None
        assert await notifier.show_progress(view) is None  # "not modified" is not an error
        edit = fake.sent("editMessageText")[0]
        assert edit.message_id == int(created) and "▰▰▰▰▰▱▱▱▱▱ 50%" in (edit.text or "")
        assert len(fake.sent("editMessageText")) == 1


async def test_a_deleted_status_message_is_sent_again() -> None:
    async with FakeTelegram() as fake, notifier_on(fake) as notifier:
        run = make_run(status=RunStatus.RUNNING, progress_message_id="999")
        created = await notifier.show_progress(
            ProgressView(run=run, status=RunStatus.RUNNING, progress=0.2)
        )
        assert created == str(fake.sent("sendMessage")[0].result["message_id"])


async def test_rate_limits_become_send_failed_with_retry_after(tmp_path: Path) -> None:
    async with FakeTelegram() as fake, notifier_on(fake) as notifier:
        fake.fail_next("sendMessage", retry_after=7)
        view = ProgressView(run=make_run(), status=RunStatus.PENDING, progress=0)
        with pytest.raises(SendFailed) as caught:
            await notifier.show_progress(view)
        assert caught.value.retry_after == 7 and not caught.value.permanent

        fake.fail_next("sendPhoto", retry_after=4)
        outcome = result(done_run(), result_file(tmp_path, "a.png", 0))
        with pytest.raises(SendFailed) as caught:
            await notifier.post_result(outcome, MemoryPartLog().journal())
        assert caught.value.retry_after == 4

        fake.fail_next(
            "sendMessage", code=403, description="Forbidden: bot was blocked by the user"
        )
        with pytest.raises(SendFailed) as caught:
            await notifier.show_progress(view)
        assert caught.value.permanent


async def test_not_running_fails_softly() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        notifier = TelegramNotifier(bot, TextRenderer(SYNTAX))
        with pytest.raises(SendFailed):
            await notifier.show_progress(
                ProgressView(run=make_run(), status=RunStatus.PENDING, progress=0)
            )
        assert fake.sent("sendMessage") == []


async def test_one_image_is_a_photo_with_caption_and_rerun(tmp_path: Path) -> None:
    async with FakeTelegram() as fake, notifier_on(fake) as notifier:
        status = await notifier.show_progress(
            ProgressView(run=make_run(), status=RunStatus.PENDING, progress=0)
        )
        run = done_run(progress_message_id=status)
        log = MemoryPartLog()
        ending = await notifier.post_result(
            result(run, result_file(tmp_path, "a.png", 0)), log.journal()
        )
        assert log.parts == {"photos-0": PartState.SENT}
        assert fake.sent("editMessageText") == []  # the status message ends in a step of its own
        assert ending is not None
        await notifier.end_status(ending)
        photo = fake.sent("sendPhoto")[0]
        assert (photo.chat_id, photo.thread_id, photo.reply_to) == (-100, 42, 3)
        assert photo.files["photo"].filename == "a.png"
        assert photo.text == "✅ Done · txt2img · run abc123\n⏱ 12.0s · 💰 $0.0123"
        assert photo.buttons == [("🔁 Rerun", "rerun:abc123")]
        final = fake.sent("editMessageText")[0]
        assert final.text == photo.text and final.buttons == []


async def test_files_go_as_album_document_video_animation_and_link(tmp_path: Path) -> None:
    async with FakeTelegram() as fake, notifier_on(fake) as notifier:
        files = (
            result_file(tmp_path, "a.png", 0),
            result_file(tmp_path, "b.png", 0),
            result_file(tmp_path, "big.png", 10_500_000),
            result_file(tmp_path, "clip.mp4", 100, OutputKind.VIDEO, "video/mp4"),
            result_file(tmp_path, "loop.gif", 100, OutputKind.GIF, "image/gif"),
            ResultFile(
                kind=OutputKind.VIDEO,
                filename="huge.mp4",
                mime="video/mp4",
                size=60_000_000,
                url="https://cdn.example/huge.mp4",
            ),
        )
        log = MemoryPartLog()
        outcome = result(done_run(), *files, texts=("a caption the workflow wrote",))
        await notifier.post_result(outcome, log.journal())
        assert set(log.parts) == {"photos-0", "file-0", "file-1", "file-2", "text"}
        album = fake.sent("sendMediaGroup")[0]
        assert [m["upload"].filename for m in album.media] == ["a.png", "b.png"]
        assert album.media[0]["caption"].startswith("✅ Done")
        document = fake.sent("sendDocument")[0]
        assert document.files["document"].size == 10_500_000 and document.text is None
        assert fake.sent("sendVideo")[0].files["video"].filename == "clip.mp4"
        assert fake.sent("sendAnimation")[0].files["animation"].filename == "loop.gif"
        summary = fake.sent("sendMessage")[-1]
        assert "a caption the workflow wrote" in (summary.text or "")
        assert "huge.mp4: https://cdn.example/huge.mp4" in (summary.text or "")
        assert summary.buttons == [("🔁 Rerun", "rerun:abc123")]


async def test_more_than_ten_photos_are_split_into_albums(tmp_path: Path) -> None:
    async with FakeTelegram() as fake, notifier_on(fake) as notifier:
        files = tuple(result_file(tmp_path, f"p{i}.png", 0) for i in range(11))
        await notifier.post_result(result(done_run(), *files), MemoryPartLog().journal())
        assert [len(c.media) for c in fake.sent("sendMediaGroup")] == [9, 2]
        # No status message to carry the Rerun button: a short message does.
        assert fake.sent("sendMessage")[-1].buttons == [("🔁 Rerun", "rerun:abc123")]


async def test_failed_run_gets_its_reason(tmp_path: Path) -> None:
    async with FakeTelegram() as fake, notifier_on(fake) as notifier:
        run = make_run(status=RunStatus.FAILED, error="Out of memory on the GPU.")
        await notifier.post_result(result(run), MemoryPartLog().journal())
        notice = fake.sent("sendMessage")[0]
        assert notice.text == (
            "❌ Failed · txt2img · run abc123\nThe backend said: Out of memory on the GPU."
        )
        assert notice.buttons == [("🔁 Rerun", "rerun:abc123")]


async def test_a_failed_run_with_a_status_message_is_announced_once_there() -> None:
    async with FakeTelegram() as fake, notifier_on(fake) as notifier:
        status = await notifier.show_progress(
            ProgressView(run=make_run(), status=RunStatus.RUNNING, progress=0.3)
        )
        run = make_run(
            status=RunStatus.CANCELLED, error="Cancelled by Ann.", progress_message_id=status
        )
        await notifier.post_result(result(run), MemoryPartLog().journal())
        assert len(fake.sent("sendMessage")) == 1  # only the status message, never a copy
        final = fake.sent("editMessageText")[-1]
        assert final.text == "🚫 Cancelled · txt2img · run abc123\nCancelled by Ann."
        assert final.buttons == [("🔁 Rerun", "rerun:abc123")]


async def test_a_retry_resumes_after_the_messages_already_sent(tmp_path: Path) -> None:
    async with FakeTelegram() as fake, notifier_on(fake) as notifier:
        files = (
            result_file(tmp_path, "a.png", 0),
            result_file(tmp_path, "clip.mp4", 100, OutputKind.VIDEO, "video/mp4"),
            result_file(tmp_path, "loop.gif", 100, OutputKind.GIF, "image/gif"),
        )
        log = MemoryPartLog()
        fake.fail_next("sendAnimation", retry_after=3)
        with pytest.raises(SendFailed):
            await notifier.post_result(result(done_run(), *files), log.journal())
        assert log.parts == {"photos-0": PartState.SENT, "file-0": PartState.SENT}
        await notifier.post_result(result(done_run(), *files), log.journal())
        assert [len(fake.sent(m)) for m in ("sendPhoto", "sendVideo", "sendAnimation")] == [
            1,
            1,
            1,
        ]


async def test_an_upload_whose_outcome_is_unknown_is_never_sent_again(tmp_path: Path) -> None:
    async with FakeTelegram() as fake:
        request = HTTPXRequest(read_timeout=0.3, write_timeout=5, connect_timeout=5)
        bot = Bot(
            fake.token,
            base_url=f"{fake.base_url}/bot",
            base_file_url=f"{fake.base_url}/file/bot",
            request=request,
        )
        await bot.initialize()
        try:
            notifier = TelegramNotifier(bot, TextRenderer(SYNTAX))
            notifier.ready = True
            files = (
                result_file(tmp_path, "a.png", 0),
                result_file(tmp_path, "b.mp4", 9, OutputKind.VIDEO, "video/mp4"),
            )
            stall = fake.accept_then_stall("sendPhoto")
            log = MemoryPartLog()
            with pytest.raises(SendFailed) as caught:
                await notifier.post_result(result(done_run(), *files), log.journal())
            assert caught.value.maybe_sent
            stall.release()
            assert log.parts == {"photos-0": PartState.SENDING}
            await notifier.post_result(result(done_run(), *files), log.journal())
        finally:
            await bot.shutdown()
        photos = [m for m in fake.messages.values() if m.get("photo")]
        assert len(photos) == 1  # it did arrive once, and was not posted again
        assert len(fake.sent("sendVideo")) == 1
        assert log.parts == {
            "photos-0": PartState.SENDING,
            "file-0": PartState.SENT,
            "buttons": PartState.SENT,
        }
