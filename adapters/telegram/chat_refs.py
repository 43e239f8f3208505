"""Where a Telegram message came from, as a core ChatRef, and back to send parameters."""

from __future__ import annotations

from typing import Any

from telegram import MaybeInaccessibleMessage, Message, ReplyParameters, User
from telegram.constants import ChatType

from core.models import ChatRef

PLATFORM = "telegram"


def chat_ref(message: MaybeInaccessibleMessage, user: User) -> ChatRef:
    """The chat, forum topic, message and user a command came from, with the user's handle and
    language (https://core.telegram.org/bots/api#user: `username`, `language_code`)."""
    topic = None
    if isinstance(message, Message) and message.is_topic_message and message.message_thread_id:
        topic = str(message.message_thread_id)
    return ChatRef(
        platform=PLATFORM,
        chat_id=str(message.chat.id),
        user_id=str(user.id),
        thread_id=topic,
        message_id=str(message.message_id),
        user_name=user.full_name or user.username or "",
        username=user.username,
        language=user.language_code,
        group=message.chat.type != ChatType.PRIVATE,
    )


def private_ref(user: User) -> ChatRef:
    """The private chat with `user`, for an update that comes from a user but from no chat (a
    pre_checkout_query, https://core.telegram.org/bots/api#precheckoutquery); Telegram gives
    a private chat its user's id."""
    return ChatRef(
        platform=PLATFORM,
        chat_id=str(user.id),
        user_id=str(user.id),
        user_name=user.full_name or user.username or "",
        username=user.username,
        language=user.language_code,
    )


def direct_ref(chat: ChatRef) -> ChatRef:
    """The private chat with the user of `chat` (Telegram gives it the user's id), for an
    answer meant for them only; it replies to nothing (the command is in another chat)."""
    return chat.model_copy(
        update={"chat_id": chat.user_id, "thread_id": None, "message_id": None, "group": False}
    )


def send_target(chat: ChatRef, reply: bool = True) -> dict[str, Any]:
    """Keyword arguments that put a new message in the chat and topic of `chat`, replying to the
    command message (still sent if that message was deleted)."""
    target: dict[str, Any] = {"chat_id": int(chat.chat_id)}
    if chat.thread_id:
        target["message_thread_id"] = int(chat.thread_id)
    if reply and chat.message_id:
        target["reply_parameters"] = ReplyParameters(
            message_id=int(chat.message_id), allow_sending_without_reply=True
        )
    return target
