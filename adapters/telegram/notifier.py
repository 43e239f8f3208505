"""core.ports.ChatNotifier for Telegram: the live status message and the result of a run."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, InputMediaDocument, InputMediaPhoto, Message
from telegram.error import BadRequest, TelegramError

from adapters.telegram.chat_refs import PLATFORM, send_target
from adapters.telegram.errors import is_message_gone, is_not_modified, sending
from adapters.telegram.keyboards import cancel_keyboard, rerun_keyboard
from adapters.telegram.limits import CAPTION_MAX, UPLOAD_MAX_BYTES, fit_text, split_text
from adapters.telegram.result_plan import ResultPlan, SendAs, plan_result
from core.chat.text_render import TextRenderer
from core.errors import SendFailed
from core.models import ChatRef, ProgressView, ResultFile, Run, RunResult, RunStatus

log = logging.getLogger(__name__)


class TelegramNotifier:
    platform = PLATFORM

    def __init__(
        self, bot: Bot, words: TextRenderer, upload_max_bytes: int = UPLOAD_MAX_BYTES
    ) -> None:
        self._bot = bot
        self._words = words
        self._upload_max = upload_max_bytes
        self.ready = False
        """Set by the adapter once the bot is initialised; sends fail (and are retried) before."""

    # -- progress --------------------------------------------------------------------------

    async def show_progress(self, view: ProgressView) -> str | None:
        self._check_ready()
        run = view.run
        text = self._words.progress(view)
        markup = cancel_keyboard(run.id, self._words)
        async with sending(f"run {run.id} progress"):
            if run.progress_message_id and await self._edit(run, text, markup):
                return None
            message = await self._bot.send_message(
                text=text, reply_markup=markup, **send_target(run.chat)
            )
        return str(message.message_id)

    async def _edit(self, run: Run, text: str, markup: InlineKeyboardMarkup | None) -> bool:
        """Edit the run's status message; False when it no longer exists (send a new one)."""
        assert run.progress_message_id is not None
        try:
            await self._bot.edit_message_text(
                text=text,
                chat_id=int(run.chat.chat_id),
                message_id=int(run.progress_message_id),
                reply_markup=markup,
            )
        except BadRequest as error:
            if is_not_modified(error):
                return True
            if is_message_gone(error):
                return False
            raise
        return True

    # -- results ---------------------------------------------------------------------------

    async def deliver_result(self, result: RunResult) -> None:
        self._check_ready()
        run = result.run
        full_caption = self._words.result_summary(run)
        caption = fit_text(full_caption, CAPTION_MAX)
        rerun = rerun_keyboard(run.id, self._words)
        async with sending(f"run {run.id} result"):
            if run.status is RunStatus.SUCCESS:
                rerun_placed = await self._send_outputs(result, caption)
            else:
                await self._send_text(run.chat, full_caption, rerun)
                rerun_placed = True
            if not rerun_placed and not run.progress_message_id:
                await self._send_text(run.chat, self._words.text("run.again"), rerun)
                rerun_placed = True
        await self._finish_status(run, full_caption, rerun_placed)

    async def _send_outputs(self, result: RunResult, caption: str) -> bool:
        """Post the files (caption on the first), then texts and links. True when a Rerun
        button went out with them (albums cannot carry one)."""
        run = result.run
        plan = plan_result(result.files, self._upload_max)
        extra = _extra_text(plan, result.texts, self._words.text("run.too_large"))
        alone = plan.media_messages == 1 and not extra
        markup = rerun_keyboard(run.id, self._words) if alone else None
        first_caption: str | None = caption
        for group in plan.photo_groups:
            if len(group) == 1:
                await self._send_file(run.chat, "photo", group[0], first_caption, markup)
            else:
                await self._send_album(run.chat, group, first_caption)
            first_caption = None
        for send_as, file in plan.singles:
            await self._send_file(run.chat, send_as, file, first_caption, markup)
            first_caption = None
        if extra or plan.media_messages == 0:
            head = caption if plan.media_messages == 0 else ""
            await self._send_text(
                run.chat,
                "\n\n".join(p for p in (head, extra) if p),
                rerun_keyboard(run.id, self._words),
            )
            return True
        return alone and not (plan.photo_groups and len(plan.photo_groups[0]) > 1)

    async def _send_file(
        self,
        chat: ChatRef,
        send_as: SendAs,
        file: ResultFile,
        caption: str | None,
        markup: InlineKeyboardMarkup | None,
    ) -> Message:
        data = await _read(file)
        target = send_target(chat)
        common: dict[str, Any] = {"caption": caption, "reply_markup": markup, **target}
        if send_as == "photo":
            try:
                return await self._bot.send_photo(photo=data, filename=file.filename, **common)
            except BadRequest as error:
                log.info(
                    "photo %s refused (%s); sending it as a document", file.filename, error.message
                )
        if send_as == "video":
            return await self._bot.send_video(video=data, filename=file.filename, **common)
        if send_as == "animation":
            return await self._bot.send_animation(animation=data, filename=file.filename, **common)
        return await self._bot.send_document(document=data, filename=file.filename, **common)

    async def _send_album(
        self, chat: ChatRef, group: list[ResultFile], caption: str | None
    ) -> None:
        contents = [await _read(file) for file in group]
        target = send_target(chat)
        photos = [
            InputMediaPhoto(data, caption=caption if index == 0 else None, filename=file.filename)
            for index, (file, data) in enumerate(zip(group, contents, strict=True))
        ]
        try:
            await self._bot.send_media_group(media=photos, **target)
            return
        except BadRequest as error:
            log.info("album refused (%s); sending it as documents", error.message)
        documents = [
            InputMediaDocument(
                data, caption=caption if index == 0 else None, filename=file.filename
            )
            for index, (file, data) in enumerate(zip(group, contents, strict=True))
        ]
        await self._bot.send_media_group(media=documents, **target)

    async def _send_text(
        self, chat: ChatRef, text: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        pieces = split_text(text)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            await self._bot.send_message(
                text=piece, reply_markup=markup if last else None, **send_target(chat)
            )

    async def _finish_status(self, run: Run, text: str, rerun_placed: bool) -> None:
        """Best effort: the status message shows the final state, without its Cancel button.
        A failure here must not fail the delivery (that would post the result twice)."""
        if not run.progress_message_id:
            return
        markup = None if rerun_placed else rerun_keyboard(run.id, self._words)
        try:
            await self._edit(run, text, markup)
        except TelegramError as error:
            log.info("run %s: final status edit failed: %s", run.id, error.message)

    def _check_ready(self) -> None:
        if not self.ready:
            raise SendFailed("the Telegram adapter is not running")


def _extra_text(plan: ResultPlan, texts: tuple[str, ...], too_large: str) -> str:
    parts = list(texts)
    if plan.links:
        lines = [too_large]
        lines += [f"{file.filename}: {file.url}" for file in plan.links if file.url]
        if len(lines) > 1:
            parts.append("\n".join(lines))
    return "\n\n".join(parts)


async def _read(file: ResultFile) -> bytes:
    assert file.path is not None
    return await asyncio.to_thread(Path(file.path).read_bytes)
