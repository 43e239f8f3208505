"""Update handlers, kept thin: translate the update into one operation, make one core call,
render the content."""

from __future__ import annotations

import logging

from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from adapters.telegram.chat_refs import chat_ref, send_target
from adapters.telegram.keyboards import keyboard
from adapters.telegram.limits import CALLBACK_ANSWER_MAX, fit_text, split_text
from adapters.telegram.media import find_image
from core.chat import buttons
from core.chat.content import RunAccepted
from core.chat.operations import RunWorkflow, from_origin
from core.chat.service import ChatService
from core.chat.text_door import TextFrontDoor
from core.chat.text_render import TextRenderer, TextReply
from core.models import ChatRef

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


class UpdateHandlers:
    def __init__(self, chat: ChatService, door: TextFrontDoor, words: TextRenderer) -> None:
        self._chat = chat
        self._door = door
        self._words = words

    async def on_message(self, update: Update, context: Context) -> None:
        """A command as text, as the caption of an image, or in reply to an image."""
        message = update.message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return
        parsed = self._door.parse(message.text or message.caption or "")
        if parsed is None or not _addressed_to_us(parsed.addressee, context):
            return
        operation = from_origin(parsed.operation, f"telegram:{message.chat_id}:{message.id}")
        if isinstance(operation, RunWorkflow) and parsed.takes_media:
            # A photo replied to is only meant as input by a workflow that takes images.
            image = find_image(message, include_reply=True)
            operation = self._door.attach(operation, [image] if image else [])
        ref = chat_ref(message, message.from_user)
        reply = self._words.render(await self._chat.execute(operation, ref))
        if reply is not None:
            await _send_reply(context.bot, ref, reply, self._words)

    async def on_callback(self, update: Update, context: Context) -> None:
        """The buttons: the same operations a user could type."""
        query = update.callback_query
        if query is None or query.message is None:
            return
        action = buttons.decode(query.data)
        if action is None:
            await query.answer()
            return
        operation = from_origin(buttons.operation_for(action), f"telegram:press:{query.id}")
        content = await self._chat.execute(operation, chat_ref(query.message, query.from_user))
        if isinstance(content, RunAccepted):
            answer: str | None = self._words.text("rerun_started")
        else:
            reply = self._words.render(content)
            answer = reply.text if reply else None
        try:
            await query.answer(fit_text(answer, CALLBACK_ANSWER_MAX) if answer else None)
        except TelegramError as error:
            log.info("could not answer a button press: %s", error.message)


async def _send_reply(bot: Bot, chat: ChatRef, reply: TextReply, words: TextRenderer) -> None:
    """The reply as plain text answering the command; its buttons under the last piece."""
    pieces = split_text(reply.text)
    for index, piece in enumerate(pieces):
        markup = keyboard(reply.actions, words) if index == len(pieces) - 1 else None
        await bot.send_message(text=piece, reply_markup=markup, **send_target(chat))


def _addressed_to_us(addressee: str | None, context: Context) -> bool:
    """`/cmd@otherbot` in a group is for another bot."""
    return addressee is None or addressee.lower() == (context.bot.username or "").lower()
