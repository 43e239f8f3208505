"""Bot API handlers that edit the bot's messages: text, caption, inline keyboard.

As https://core.telegram.org/bots/api#updating-messages describes them: only the bot's own
messages, an edit that changes nothing is refused ("message is not modified"), and an inline
message (`inline_message_id`) answers True. Each accepted edit is added to the message history.
"""

from __future__ import annotations

from tests.fakes.telegram_calls import ApiError, Call
from tests.fakes.telegram_objects import JsonDict
from tests.fakes.telegram_state import FakeTelegramState

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply "
    "markup are exactly the same as a current content and reply markup of the message"
)


class EditMethods(FakeTelegramState):
    """`_m_{method}` handlers, found by the lowercased Bot API method name."""

    def _m_editmessagetext(self, call: Call) -> JsonDict | bool:
        if "inline_message_id" in call.params:
            return True
        text = str(call.params.get("text", ""))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        message = self._editable(call)
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        return self._edit(message, call, "text", text)

    def _m_editmessagecaption(self, call: Call) -> JsonDict | bool:
        if "inline_message_id" in call.params:
            return True
        caption = call.params.get("caption")
        if caption is not None and len(str(caption)) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        message = self._editable(call)
        if "text" in message:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        return self._edit(message, call, "caption", None if caption is None else str(caption))

    def _m_editmessagereplymarkup(self, call: Call) -> JsonDict | bool:
        if "inline_message_id" in call.params:
            return True
        message = self._editable(call)
        field = "text" if "text" in message else "caption"
        return self._edit(message, call, field, message.get(field))

    def _editable(self, call: Call) -> JsonDict:
        chat_id, message_id = call.chat_id, call.message_id
        message = None
        if isinstance(chat_id, int) and message_id is not None:
            message = self.messages.get((chat_id, message_id))
        if message is None or message["from"]["id"] != self.bot_id:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    def _edit(self, message: JsonDict, call: Call, field: str, value: str | None) -> JsonDict:
        markup = call.params.get("reply_markup")
        if message.get(field) == value and message.get("reply_markup") == markup:
            raise ApiError(400, NOT_MODIFIED)
        if value is None:
            message.pop(field, None)
        else:
            message[field] = value
        message["edit_date"] = message["date"]
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        self.history_book.record(message)
        return message
