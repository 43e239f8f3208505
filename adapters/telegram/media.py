"""A user's image in a Telegram message: the photo or image document it carries, or the one in
the message it replies to, as an attachment the engine downloads only when it needs it. Size is
checked from `file_size` before downloading (https://core.telegram.org/bots/api#getfile: bots
can download files of up to 20 MB), type later by the bytes."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Bot, Message
from telegram.error import BadRequest, TelegramError

from core.errors import FileRejected, MediaUnavailable


@dataclass(frozen=True)
class TelegramImage:
    """An image sent on Telegram, not yet downloaded (core.requests.Attachment)."""

    bot: Bot
    file_id: str
    size: int | None
    filename: str

    async def read(self, max_bytes: int) -> bytes:
        try:
            file = await self.bot.get_file(self.file_id)
            if file.file_size is not None and file.file_size > max_bytes:
                raise _too_large(max_bytes)
            return bytes(await file.download_as_bytearray())
        except BadRequest as error:
            if "too big" in error.message.lower():
                raise _too_large(max_bytes) from error
            raise MediaUnavailable() from error
        except TelegramError as error:
            raise MediaUnavailable() from error


def find_image(message: Message, include_reply: bool = True) -> TelegramImage | None:
    """The image attached to `message`, else (if `include_reply`) to the one it replies to."""
    bot = message.get_bot()
    for candidate in (message, message.reply_to_message if include_reply else None):
        if candidate is None:
            continue
        if candidate.photo:
            largest = candidate.photo[-1]
            return TelegramImage(bot, largest.file_id, largest.file_size, "photo.jpg")
        document = candidate.document
        if document is not None and (document.mime_type or "").startswith("image/"):
            name = document.file_name or "image"
            return TelegramImage(bot, document.file_id, document.file_size, name)
    return None


def _too_large(limit: int) -> FileRejected:
    return FileRejected("input.image_too_large", limit_mb=f"{limit / 1_000_000:g}")
