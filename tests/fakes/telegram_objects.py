"""Bot API objects as Telegram serialises them (https://core.telegram.org/bots/api#available-types).

Plain dicts, so the fake server and the tests build exactly the JSON a real client receives.
"""

from __future__ import annotations

import time
from typing import Any

JsonDict = dict[str, Any]


def now_seconds() -> int:
    """Telegram dates are Unix time in whole seconds."""
    return int(time.time())


def user_json(
    user_id: int,
    first_name: str = "Ann",
    username: str | None = None,
    *,
    last_name: str | None = None,
    language_code: str | None = None,
) -> JsonDict:
    """A User; `language_code` is the IETF tag of the user's language, when Telegram knows it."""
    user: JsonDict = {"id": user_id, "is_bot": False, "first_name": first_name}
    optional = {"last_name": last_name, "username": username, "language_code": language_code}
    user.update({k: v for k, v in optional.items() if v})
    return user


def bot_user_json(bot_id: int, username: str) -> JsonDict:
    """What getMe returns."""
    return {
        "id": bot_id,
        "is_bot": True,
        "first_name": "Comfy Test Bot",
        "username": username,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }


def chat_json(chat_id: int, user: JsonDict | None = None, forum: bool = False) -> JsonDict:
    """A private chat for positive ids, a supergroup (a forum when asked) for negative ones."""
    if chat_id > 0:
        chat: JsonDict = {"id": chat_id, "type": "private"}
        if user is not None:
            chat.update({k: user[k] for k in ("first_name", "last_name", "username") if k in user})
        return chat
    chat = {"id": chat_id, "type": "supergroup", "title": "Test group"}
    if forum:
        chat["is_forum"] = True
    return chat


def photo_sizes_json(
    file_id: str, size: int, width: int = 512, height: int = 512
) -> list[JsonDict]:
    """A thumbnail and the full size, smallest first, as Telegram lists them."""
    return [
        {
            "file_id": f"{file_id}-thumb",
            "file_unique_id": f"u{file_id}-thumb",
            "width": 90,
            "height": 90,
            "file_size": min(size, 1500),
        },
        {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "width": width,
            "height": height,
            "file_size": size,
        },
    ]


def document_json(file_id: str, size: int, file_name: str, mime_type: str) -> JsonDict:
    return {
        "file_id": file_id,
        "file_unique_id": f"u{file_id}",
        "file_name": file_name,
        "mime_type": mime_type,
        "file_size": size,
    }


def video_json(file_id: str, size: int, file_name: str, mime_type: str) -> JsonDict:
    return {
        "file_id": file_id,
        "file_unique_id": f"u{file_id}",
        "width": 512,
        "height": 512,
        "duration": 2,
        "file_name": file_name,
        "mime_type": mime_type,
        "file_size": size,
    }


def message_json(
    message_id: int,
    chat: JsonDict,
    sender: JsonDict,
    *,
    thread_id: int | None = None,
    reply_to: JsonDict | None = None,
    **content: Any,
) -> JsonDict:
    """A message; `content` holds text/caption/photo/document/... and reply_markup."""
    message: JsonDict = {
        "message_id": message_id,
        "from": sender,
        "chat": chat,
        "date": now_seconds(),
    }
    if thread_id is not None:
        message["message_thread_id"] = thread_id
        message["is_topic_message"] = True
    if reply_to is not None:
        message["reply_to_message"] = {
            k: v for k, v in reply_to.items() if k != "reply_to_message"
        }
    message.update({k: v for k, v in content.items() if v is not None})
    return message


def callback_query_json(query_id: str, sender: JsonDict, message: JsonDict, data: str) -> JsonDict:
    return {
        "id": query_id,
        "from": sender,
        "message": message,
        "chat_instance": f"ci{message['chat']['id']}",
        "data": data,
    }
