"""Update handlers, kept thin: parse the update, make one core call, render the reply."""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from adapters.telegram.chat_refs import chat_ref, send_target
from adapters.telegram.keyboards import cancel_keyboard, parse_callback
from adapters.telegram.limits import CALLBACK_ANSWER_MAX, fit_text, split_text
from adapters.telegram.media import ImageFetcher
from core.chat import ChatService, Reply
from core.command_line import parse_command_line
from core.commands import command_map
from core.errors import FileRejected
from core.models import ChatRef, UploadedFile

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
IMAGE_FETCH_FAILED = "Sorry, I could not fetch that image from Telegram; please try again."


class UpdateHandlers:
    def __init__(self, chat: ChatService, images: ImageFetcher) -> None:
        self._chat = chat
        self._images = images

    async def on_message(self, update: Update, context: Context) -> None:
        """A command as text, as the caption of an image, or in reply to an image."""
        message = update.message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return
        line = message.text or message.caption or ""
        parsed = parse_command_line(line)
        if parsed is None or not _addressed_to_us(parsed.addressee, context):
            return
        ref = chat_ref(message, message.from_user)
        images: list[UploadedFile] = []
        if parsed.command in command_map(self._chat.commands()):
            # A photo replied to is only meant as input by a workflow that takes images.
            takes_images = self._chat.takes_images(parsed.command)
            try:
                images = await self._images.fetch(message, include_reply=takes_images)
            except FileRejected as error:
                await _send_reply(context.bot, ref, Reply(error.message))
                return
            except TelegramError as error:
                log.warning("could not fetch an image from Telegram: %s", error.message)
                await _send_reply(context.bot, ref, Reply(IMAGE_FETCH_FAILED))
                return
        reply = await self._chat.handle(line, ref, images)
        if reply is not None:
            await _send_reply(context.bot, ref, reply)

    async def on_callback(self, update: Update, context: Context) -> None:
        """The Cancel and Rerun buttons: the same commands a user could type."""
        query = update.callback_query
        if query is None or query.message is None:
            return
        parsed = parse_callback(query.data)
        if parsed is None:
            await query.answer()
            return
        action, run_id = parsed
        reply = await self._chat.handle(
            f"/{action} {run_id}", chat_ref(query.message, query.from_user)
        )
        answer = reply.text if reply else ("Running it again…" if action == "rerun" else None)
        try:
            await query.answer(fit_text(answer, CALLBACK_ANSWER_MAX) if answer else None)
        except TelegramError as error:
            log.info("could not answer a button press: %s", error.message)


async def _send_reply(bot: Bot, chat: ChatRef, reply: Reply) -> None:
    """The reply as plain text answering the command; a Cancel button for an unfinished run."""
    pieces = split_text(reply.text)
    for index, piece in enumerate(pieces):
        markup: InlineKeyboardMarkup | None = None
        if reply.cancel_run_id and index == len(pieces) - 1:
            markup = cancel_keyboard(reply.cancel_run_id)
        await bot.send_message(text=piece, reply_markup=markup, **send_target(chat))


def _addressed_to_us(addressee: str | None, context: Context) -> bool:
    """`/cmd@otherbot` in a group is for another bot."""
    return addressee is None or addressee.lower() == (context.bot.username or "").lower()
