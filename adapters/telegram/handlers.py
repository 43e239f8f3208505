"""Update handlers, kept thin: translate the update into one operation, make one core call,
render the content in the user's language (https://core.telegram.org/bots/api#user:
`language_code`).

Content private to the asker (their balance, usage, queue, runs) asked for in a group goes to
their private chat, and the group is only told so; a user who never opened a private chat with
the bot cannot be written to there (403), so the group tells them to open one first, with a
deep link to it (https://core.telegram.org/bots/features#deep-linking)."""

from __future__ import annotations

import logging

from telegram import Bot, Message, Update
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError
from telegram.ext import ContextTypes

from adapters.telegram.chat_refs import PLATFORM, chat_ref, direct_ref, send_target
from adapters.telegram.entities import code_entities
from adapters.telegram.invoices import send_offer
from adapters.telegram.keyboards import keyboard
from adapters.telegram.limits import CALLBACK_ANSWER_MAX, TEXT_MAX, fit_text, split_text
from adapters.telegram.media import find_image
from adapters.telegram.notifier import TelegramNotifier
from core.chat import buttons
from core.chat.content import Content, CreditOffer, Problems, RunAccepted, RunShown
from core.chat.content import Message as Notice
from core.chat.operations import FollowUp, NotACommand, Operation, RunWorkflow, from_origin
from core.chat.reposts import repost_journal, shown_here
from core.chat.service import ChatService
from core.chat.text_door import TextFrontDoor
from core.chat.text_render import TextRenderer, TextReply
from core.models import ChatRef

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


class UpdateHandlers:
    def __init__(
        self,
        chat: ChatService,
        door: TextFrontDoor,
        words: TextRenderer,
        notifier: TelegramNotifier,
        *,
        can_resend: bool = False,
    ) -> None:
        """`can_resend`: updates come by webhook, so Telegram sends one again when told to."""
        self._chat = chat
        self._can_resend = can_resend
        self._door = door
        self._words = words
        self._notifier = notifier

    async def on_message(self, update: Update, context: Context) -> None:
        """A command as text, as the caption of an image, or in reply to an image; in a private
        chat, anything else gets a short hint."""
        message = update.message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return
        parsed = self._door.parse(
            message.text or message.caption or "", replied_user=_replied_user(message)
        )
        private = message.chat.type == ChatType.PRIVATE
        if parsed is None and not private:
            return
        if parsed is not None and not _addressed_to_us(parsed.addressee, context):
            return
        operation: Operation
        if parsed is None:
            operation = NotACommand(image=find_image(message, include_reply=False) is not None)
        else:
            operation = from_origin(parsed.operation, f"telegram:{message.chat_id}:{message.id}")
        if isinstance(operation, RunWorkflow) and parsed is not None and parsed.takes_media:
            # A photo replied to is only meant as input by a workflow that takes images.
            image = find_image(message, include_reply=True)
            operation = self._door.attach(operation, [image] if image else [])
        ref = chat_ref(message, message.from_user)
        content = await self._chat.execute(operation, ref, can_resend=self._can_resend)
        await self.answer(context.bot, ref, content)

    async def on_callback(self, update: Update, context: Context) -> None:
        """The buttons: the same operations a user could type."""
        query = update.callback_query
        if query is None or query.message is None:
            return
        action = buttons.decode(query.data)
        if action is None:
            await query.answer()
            return
        ref = chat_ref(query.message, query.from_user)
        operation = from_origin(buttons.operation_for(action), f"telegram:press:{query.id}")
        content = await self._chat.execute(operation, ref, can_resend=self._can_resend)
        words = self._words.for_chat(ref)
        answer: str | None = None
        if isinstance(content, RunAccepted):
            started = "follow_up_started" if isinstance(operation, FollowUp) else "rerun_started"
            answer = words.text(started)
        elif isinstance(content, Notice | Problems):
            reply = words.render(content)
            answer = reply.text if reply else None
        else:  # a recipe, a result shown again: too much for a toast, so a message
            await self.answer(context.bot, ref, content)
        try:
            await query.answer(fit_text(answer, CALLBACK_ANSWER_MAX) if answer else None)
        except TelegramError as error:
            log.info("could not answer a button press: %s", error.message)

    async def answer(self, bot: Bot, ref: ChatRef, content: Content) -> None:
        """Content as messages in the chat of `ref`, in the user's language."""
        if isinstance(content, RunShown):
            result = shown_here(content.result, ref)
            await self._notifier.post_result(result, repost_journal(result.run.id))
            return
        words = self._words.for_chat(ref)
        if isinstance(content, CreditOffer):
            await send_offer(bot, ref, content, words)
            return
        reply = words.render(content)
        if reply is None:
            return
        if reply.private and ref.group:
            await _send_privately(bot, ref, reply, words)
            return
        whole = isinstance(content, Notice | Problems)
        await _send_reply(bot, ref, reply, words, whole=whole)


async def _send_privately(bot: Bot, ref: ChatRef, reply: TextReply, words: TextRenderer) -> None:
    """The reply in the user's private chat; in the group, a note that it went there, or, when
    the user never started the bot, how to (never the reply itself)."""
    try:
        await _send_reply(bot, direct_ref(ref), reply, words)
    except Forbidden as refused:
        log.info("could not answer %s privately: %s", ref.user_key, refused.message)
        link = _deep_link(bot)
        note = (
            words.text("private.closed", link=link)
            if link
            else words.text("private.closed_no_link")
        )
    else:
        note = words.text("private.sent")
    await _send_reply(bot, ref, TextReply(note), words, whole=True)


def _deep_link(bot: Bot) -> str | None:
    """A link that opens the private chat with the bot, its Start button ready
    (https://core.telegram.org/bots/features#deep-linking); None before the bot knows its
    own username."""
    try:
        username = bot.username
    except RuntimeError:  # not initialized: getMe not called yet
        return None
    return f"https://t.me/{username}?start=private" if username else None


async def _send_reply(
    bot: Bot, chat: ChatRef, reply: TextReply, words: TextRenderer, *, whole: bool = False
) -> None:
    """The reply as plain text answering the command, its buttons under the last piece. A
    notice is one message, cut if it must be; run ids and commands worth copying are marked as
    code (tap to copy)."""
    pieces = [fit_text(reply.text, TEXT_MAX)] if whole else split_text(reply.text)
    for index, piece in enumerate(pieces):
        markup = keyboard(reply.actions, words) if index == len(pieces) - 1 else None
        entities = code_entities(piece, reply.copyable)
        await bot.send_message(
            text=piece, reply_markup=markup, entities=entities or None, **send_target(chat)
        )


def _replied_user(message: Message) -> str | None:
    """Who wrote the message this one replies to (`/ban` as a reply bans them)."""
    replied = message.reply_to_message
    author = replied.from_user if replied is not None else None
    if author is None or author.is_bot:
        return None
    return f"{PLATFORM}:{author.id}"


def _addressed_to_us(addressee: str | None, context: Context) -> bool:
    """`/cmd@otherbot` in a group is for another bot."""
    return addressee is None or addressee.lower() == (context.bot.username or "").lower()
