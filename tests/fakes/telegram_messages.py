"""Bot API handlers that send messages: text, photos, documents, videos, albums.

Each builds the message Telegram would return and records it, enforcing Telegram's limits
(text and caption length, file sizes, callback data, replies to missing messages), and refusing
with 403 a private chat whose user never started the bot: a bot cannot start a conversation, the
user must open it (https://core.telegram.org/bots/features#deep-linking).
"""

from __future__ import annotations

import secrets
from typing import Any

from tests.fakes.telegram_calls import PHOTO_LIMIT, UPLOAD_LIMIT, ApiError, Call, truthy
from tests.fakes.telegram_objects import (
    JsonDict,
    chat_json,
    document_json,
    message_json,
    photo_sizes_json,
    video_json,
)
from tests.fakes.telegram_state import FakeTelegramState


class MessageMethods(FakeTelegramState):
    """`_m_{method}` handlers, found by the lowercased Bot API method name."""

    def _m_sendmessage(self, call: Call) -> JsonDict:
        text = str(call.params.get("text", ""))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return self._bot_message(call, text=text)

    def _m_sendphoto(self, call: Call) -> JsonDict:
        return self._media_message(call, "photo")

    def _m_senddocument(self, call: Call) -> JsonDict:
        return self._media_message(call, "document")

    def _m_sendvideo(self, call: Call) -> JsonDict:
        return self._media_message(call, "video")

    def _m_sendanimation(self, call: Call) -> JsonDict:
        return self._media_message(call, "animation")

    def _m_sendmediagroup(self, call: Call) -> list[JsonDict]:
        items = call.params.get("media")
        if not isinstance(items, list) or not 2 <= len(items) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media in the album (2-10)")
        group_id = secrets.token_hex(6)
        messages = []
        for item in items:
            kind = str(item.get("type", "photo"))
            _check_caption(item.get("caption"))
            content = self._media_content(call, kind, str(item.get("media", "")))
            messages.append(
                self._bot_message(
                    call, media_group_id=group_id, caption=item.get("caption"), **content
                )
            )
        return messages

    # -- building the bot's messages ---------------------------------------------------------

    def _media_message(self, call: Call, kind: str) -> JsonDict:
        _check_caption(call.params.get("caption"))
        reference = call.params.get(kind)
        if reference is None and kind not in call.files:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        content = self._media_content(call, kind, str(reference or f"attach://{kind}"))
        return self._bot_message(call, caption=call.params.get("caption"), **content)

    def _media_content(self, call: Call, kind: str, reference: str) -> JsonDict:
        upload = call.upload(reference) or call.files.get(reference)
        if upload is not None:
            data, name, mime = upload.data, upload.filename, upload.content_type
        elif reference in self._files:
            stored = self._files[reference]
            data, name, mime = stored.data, stored.path.rsplit("/", 1)[-1], "image/jpeg"
        elif reference.startswith(("http://", "https://")):
            data, name, mime = b"", reference.rsplit("/", 1)[-1], "application/octet-stream"
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if len(data) > UPLOAD_LIMIT:
            raise ApiError(413, "Request Entity Too Large")
        if kind == "photo" and len(data) > PHOTO_LIMIT:
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        file_id = self.add_file(data, f"{kind}s/{name or 'file.bin'}")
        if kind == "photo":
            return {"photo": photo_sizes_json(file_id, len(data))}
        if kind == "video":
            return {"video": video_json(file_id, len(data), name, mime)}
        document = document_json(file_id, len(data), name, mime)
        if kind == "animation":
            return {"animation": video_json(file_id, len(data), name, mime), "document": document}
        return {"document": document}

    def _bot_message(self, call: Call, **content: Any) -> JsonDict:
        chat_id = call.chat_id
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.not_started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        thread_id = call.thread_id
        reply_to = self.messages.get((chat_id, call.reply_to)) if call.reply_to else None
        if call.reply_to and reply_to is None and not _allows_missing_reply(call.params):
            raise ApiError(400, "Bad Request: message to be replied not found")
        markup = call.params.get("reply_markup")
        if isinstance(markup, dict):
            _check_markup(markup)
        chat = chat_json(chat_id, None, forum=thread_id is not None)
        message = message_json(
            self._next_message_id(chat_id),
            chat,
            self.bot_user,
            thread_id=thread_id,
            reply_to=reply_to,
            reply_markup=markup,
            **content,
        )
        self.messages[(chat_id, message["message_id"])] = message
        self.history_book.record(message)
        return message


def _check_caption(caption: object) -> None:
    if caption is not None and len(str(caption)) > 1024:
        raise ApiError(400, "Bad Request: message caption is too long")


def _check_markup(markup: JsonDict) -> None:
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


def _allows_missing_reply(params: JsonDict) -> bool:
    parameters = params.get("reply_parameters")
    if isinstance(parameters, dict) and parameters.get("allow_sending_without_reply"):
        return True
    return truthy(params.get("allow_sending_without_reply"))
