"""What users do, as updates the bot receives: messages, photos, documents, button presses.

Users may be registered with `add_user` so every update carries the same User object
(https://core.telegram.org/bots/api#user: `username`, `language_code`, ...). A message may
reply to any other message, a user's or the bot's (`reply_to`), e.g. "/ban" as a reply; in a
forum supergroup it belongs to a topic (`thread_id`). Any user may press a button of any
message, in private chats, groups and topics alike.

Updates get increasing update_ids (https://core.telegram.org/bots/api#update). A test can
deliver the same update again, same update_id (`redeliver`), or the same message in a new
update (`repeat_message`).
"""

from __future__ import annotations

import secrets
from typing import Any

from tests.fakes.telegram_objects import (
    JsonDict,
    callback_query_json,
    chat_json,
    document_json,
    message_json,
    photo_sizes_json,
    user_json,
)
from tests.fakes.telegram_state import FakeTelegramState


class UserActions(FakeTelegramState):
    def add_user(
        self,
        user_id: int,
        first_name: str = "Ann",
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = None,
    ) -> JsonDict:
        """Register a user: their updates carry this User object from now on."""
        user = user_json(
            user_id, first_name, username, last_name=last_name, language_code=language_code
        )
        self.users[user_id] = user
        return user

    def never_started(self, user_id: int) -> None:
        """`user_id` never opened a private chat with the bot: until they write to it there,
        a message the bot sends them is refused with 403."""
        self.not_started.add(user_id)

    def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        reply_to: JsonDict | None = None,
        user_name: str | None = None,
    ) -> JsonDict:
        """`user_name` overrides the first name (default: as registered, else "Ann")."""
        return self._user_message(chat_id, user_id, user_name, thread_id, reply_to, text=text)

    def send_photo(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        *,
        caption: str | None = None,
        thread_id: int | None = None,
        reply_to: JsonDict | None = None,
        file_size: int | None = None,
    ) -> JsonDict:
        """A photo message; `file_size` overrides the size Telegram reports."""
        file_id = self.add_file(data, "photos/file.jpg")
        sizes = photo_sizes_json(file_id, len(data) if file_size is None else file_size)
        return self._user_message(
            chat_id, user_id, None, thread_id, reply_to, photo=sizes, caption=caption
        )

    def send_document(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        *,
        file_name: str = "image.png",
        mime_type: str = "image/png",
        caption: str | None = None,
        thread_id: int | None = None,
    ) -> JsonDict:
        file_id = self.add_file(data, f"documents/{file_name}")
        document = document_json(file_id, len(data), file_name, mime_type)
        return self._user_message(
            chat_id, user_id, None, thread_id, None, document=document, caption=caption
        )

    def press_button(self, user_id: int, message: JsonDict, data: str) -> str:
        """A tap by `user_id` on an inline button of `message`; returns the callback query id."""
        query_id = secrets.token_hex(8)
        query = callback_query_json(query_id, self.user(user_id), message, data)
        self.push_update({"callback_query": query})
        return query_id

    def repeat_message(self, message: JsonDict) -> int:
        """The same message once more, in a new update (a new update_id), e.g. a
        successful_payment Telegram delivers twice. Returns the new update_id."""
        return self.push_update({"message": message})

    def redeliver(self, update_id: int) -> None:
        """Deliver update `update_id` again, unchanged: first in the next getUpdates answer
        even if already confirmed, or (with push_webhooks) POSTed to the webhook again. (A
        webhook without push_webhooks: `await post_update(update_log[update_id])`.)"""
        self._again.append(self.update_log[update_id])
        self._notify()

    def _user_message(
        self,
        chat_id: int,
        user_id: int,
        user_name: str | None,
        thread_id: int | None,
        reply_to: JsonDict | None,
        **content: Any,
    ) -> JsonDict:
        sender = self.user(user_id, user_name)
        if chat_id == user_id:
            self.not_started.discard(user_id)  # writing to the bot opens the private chat
        chat = chat_json(chat_id, sender, forum=thread_id is not None)
        message = message_json(
            self._next_message_id(chat_id),
            chat,
            sender,
            thread_id=thread_id,
            reply_to=reply_to,
            **content,
        )
        self.messages[(chat_id, message["message_id"])] = message
        self.push_update({"message": message})
        return message
