"""core.ports.ChatNotifier for Telegram: the live status message and the result of a run.

A result is a few messages (photos or albums, videos, documents, a text with links); each is one
part of the delivery journal, so a retry resumes after the last one confirmed and none is posted
twice (Telegram has no idempotency key: a message whose upload timed out is not sent again).
A run that failed or was cancelled is announced once: its status message becomes the notice.
Every request goes through the bot's pacer (pacing.py); progress edits go last in their chat.
The status message always ends in its final state (`end_status`, after the result is posted and
the delivery's slot given back): a flood wait is sat out by the pacer, and any other failure of
the final edit fails the delivery, which comes back for that edit alone (the result's messages
are journaled as sent).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, InputMediaDocument, InputMediaPhoto, Message
from telegram.error import BadRequest

from adapters.telegram.chat_refs import PLATFORM, send_target
from adapters.telegram.entities import code_entities
from adapters.telegram.errors import is_message_gone, is_not_modified, sending
from adapters.telegram.keyboards import cancel_keyboard, keyboard
from adapters.telegram.limits import CAPTION_MAX, UPLOAD_MAX_BYTES, fit_text, split_text
from adapters.telegram.pacing import TelegramPacer, in_background
from adapters.telegram.result_plan import ResultPlan, SendAs, plan_result
from core.chat.text_render import TextRenderer
from core.errors import SendFailed
from core.journal import DeliveryJournal, send_once
from core.models import ChatRef, ProgressView, ResultFile, Run, RunResult, RunStatus

log = logging.getLogger(__name__)


class TelegramNotifier:
    platform = PLATFORM

    def __init__(
        self, bot: Bot, words: TextRenderer, upload_max_bytes: int = UPLOAD_MAX_BYTES
    ) -> None:
        self._bot = bot
        self._paced = isinstance(getattr(bot, "rate_limiter", None), TelegramPacer)
        """Every request passes the pacer, which journals a part `sending` as it leaves."""
        self._words = words
        self._upload_max = upload_max_bytes
        self.ready = False
        """Set by the adapter once the bot is initialised; sends fail (and are retried) before."""

    # -- progress --------------------------------------------------------------------------

    async def show_progress(self, view: ProgressView) -> str | None:
        self._check_ready()
        run = view.run
        words = self._words.for_chat(run.chat)
        text = words.progress(view)
        markup = cancel_keyboard(run.id, words)
        async with sending(f"run {run.id} progress"):
            if run.progress_message_id:
                with in_background():
                    if await self._edit(run, text, markup):
                        return None
            message = await self._bot.send_message(
                text=text,
                reply_markup=markup,
                entities=code_entities(text, (run.id,)),
                **send_target(run.chat),
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
                entities=code_entities(text, (run.id,)),
            )
        except BadRequest as error:
            if is_not_modified(error):
                return True
            if is_message_gone(error):
                return False
            raise
        return True

    # -- results ---------------------------------------------------------------------------

    async def post_result(self, result: RunResult, journal: DeliveryJournal) -> RunResult | None:
        self._check_ready()
        run = result.run
        words = self._words.for_chat(run.chat)
        summary = words.result_summary(run, result.balance)
        markup = keyboard(result.actions, words)
        if run.status is not RunStatus.SUCCESS:
            await self._announce(run, summary, markup, journal)
            return None
        buttons_placed = await self._send_outputs(result, summary, markup, journal)
        if not buttons_placed and not run.progress_message_id:
            again = words.text("run.again")
            await self._part(journal, "buttons", lambda: self._text(run.chat, again, markup))
            buttons_placed = True
        if not run.progress_message_id:
            return None
        return result.model_copy(
            update={"files": (), "texts": (), "actions": () if buttons_placed else result.actions}
        )

    async def end_status(self, ending: RunResult) -> None:
        run = ending.run
        words = self._words.for_chat(run.chat)
        summary = words.result_summary(run, ending.balance)
        await self._finish_status(run, summary, keyboard(ending.actions, words))

    async def _announce(
        self,
        run: Run,
        summary: str,
        markup: InlineKeyboardMarkup | None,
        journal: DeliveryJournal,
    ) -> None:
        """Why the run ended, once: in its status message when there is one, else a message."""
        if run.progress_message_id:
            try:
                async with sending(f"run {run.id} notice"):
                    if await self._edit(run, summary, markup):
                        return
            except SendFailed as failure:
                if not failure.permanent:
                    raise
        await self._part(journal, "notice", lambda: self._text(run.chat, summary, markup))

    async def _send_outputs(
        self,
        result: RunResult,
        summary: str,
        markup: InlineKeyboardMarkup | None,
        journal: DeliveryJournal,
    ) -> bool:
        """Post the files (the summary under the first), then texts and links. True when the
        buttons went out with them (albums cannot carry any)."""
        run = result.run
        caption: str | None = fit_text(summary, CAPTION_MAX)
        plan = plan_result(result.files, self._upload_max)
        too_large = self._words.for_chat(run.chat).text("run.too_large")
        extra = _extra_text(plan, result.texts, too_large)
        alone = plan.media_messages == 1 and not extra
        single_markup = markup if alone else None
        for index, group in enumerate(plan.photo_groups):
            shown = caption
            if len(group) == 1:
                await self._part(
                    journal,
                    f"photos-{index}",
                    lambda f=group[0], c=shown: self._file(run.chat, "photo", f, c, single_markup),
                )
            else:
                await self._part(
                    journal,
                    f"photos-{index}",
                    lambda g=group, c=shown: self._album(run.chat, g, c),
                )
            caption = None
        for index, (send_as, file) in enumerate(plan.singles):
            shown = caption
            await self._part(
                journal,
                f"file-{index}",
                lambda a=send_as, f=file, c=shown: self._file(run.chat, a, f, c, single_markup),
            )
            caption = None
        if extra or plan.media_messages == 0:
            head = summary if plan.media_messages == 0 else ""
            text = "\n\n".join(p for p in (head, extra) if p)
            await self._part(journal, "text", lambda: self._text(run.chat, text, markup))
            return True
        return alone and not (plan.photo_groups and len(plan.photo_groups[0]) > 1)

    async def _part(self, journal: DeliveryJournal, part: str, send: Any) -> None:
        async def attempt() -> None:
            async with sending(f"{part} of a result"):
                await send()

        await send_once(journal, part, attempt, mark_on_leaving=self._paced)

    async def _file(
        self,
        chat: ChatRef,
        send_as: SendAs,
        file: ResultFile,
        caption: str | None,
        markup: InlineKeyboardMarkup | None,
    ) -> Message:
        data = await _read(file)
        common: dict[str, Any] = {"caption": caption, "reply_markup": markup, **send_target(chat)}
        name = file.filename
        if send_as == "photo":
            try:
                return await self._bot.send_photo(photo=data, filename=name, **common)
            except BadRequest as error:
                log.info("photo %s refused (%s); sending it as a document", name, error.message)
        if send_as == "video":
            return await self._bot.send_video(video=data, filename=name, **common)
        if send_as == "animation":
            return await self._bot.send_animation(animation=data, filename=name, **common)
        return await self._bot.send_document(document=data, filename=name, **common)

    async def _album(self, chat: ChatRef, group: list[ResultFile], caption: str | None) -> None:
        target = send_target(chat)
        contents = [await _read(file) for file in group]
        try:
            photos = _media(group, contents, caption, InputMediaPhoto)
            await self._bot.send_media_group(media=photos, **target)
            return
        except BadRequest as error:
            log.info("album refused (%s); sending it as documents", error.message)
        documents = _media(group, contents, caption, InputMediaDocument)
        await self._bot.send_media_group(media=documents, **target)

    async def _text(self, chat: ChatRef, text: str, markup: InlineKeyboardMarkup | None) -> None:
        pieces = split_text(text)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            await self._bot.send_message(
                text=piece, reply_markup=markup if last else None, **send_target(chat)
            )

    async def _finish_status(
        self, run: Run, text: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        """The status message in its final state, without its Cancel button. A failure that
        may pass raises (SendFailed): the delivery comes back for this edit; a message that can
        no longer be edited is left as it is."""
        if not run.progress_message_id:
            return
        try:
            async with sending(f"run {run.id} final status"):
                await self._edit(run, text, markup)
        except SendFailed as failure:
            if not failure.permanent:
                raise
            log.info("run %s: final status edit refused: %s", run.id, failure)

    def _check_ready(self) -> None:
        if not self.ready:
            raise SendFailed("the Telegram adapter is not running", platform_down=True)


def _media(
    group: list[ResultFile],
    contents: list[bytes],
    caption: str | None,
    kind: type[InputMediaPhoto | InputMediaDocument],
) -> list[Any]:
    return [
        kind(data, caption=caption if index == 0 else None, filename=file.filename)
        for index, (file, data) in enumerate(zip(group, contents, strict=True))
    ]


async def _read(file: ResultFile) -> bytes:
    assert file.path is not None
    return await asyncio.to_thread(Path(file.path).read_bytes)


def _extra_text(plan: ResultPlan, texts: tuple[str, ...], too_large: str) -> str:
    parts = list(texts)
    if plan.links:
        lines = [too_large]
        lines += [f"{file.filename}: {file.url}" for file in plan.links if file.url]
        if len(lines) > 1:
            parts.append("\n".join(lines))
    return "\n\n".join(parts)
