"""A user's image from a Telegram message: the photo or image document it carries, or the one
in the message it replies to. Size is checked from `file_size` before downloading, type by the
bytes (FileManager.check_image)."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message
from telegram.error import BadRequest

from core.errors import FileRejected
from core.files import FileManager
from core.models import UploadedFile


@dataclass(frozen=True)
class ImageRef:
    file_id: str
    size: int | None
    filename: str


def find_image(message: Message, include_reply: bool = True) -> ImageRef | None:
    """The image attached to `message`, else (if `include_reply`) to the one it replies to."""
    for candidate in (message, message.reply_to_message if include_reply else None):
        if candidate is None:
            continue
        if candidate.photo:
            largest = candidate.photo[-1]
            return ImageRef(largest.file_id, largest.file_size, "photo.jpg")
        document = candidate.document
        if document is not None and (document.mime_type or "").startswith("image/"):
            return ImageRef(document.file_id, document.file_size, document.file_name or "image")
    return None


class ImageFetcher:
    def __init__(self, files: FileManager) -> None:
        self._files = files

    async def fetch(self, message: Message, include_reply: bool = True) -> list[UploadedFile]:
        """Zero or one checked image; FileRejected when it is too large or not an image."""
        image = find_image(message, include_reply)
        if image is None:
            return []
        if image.size is not None and image.size > self._files.max_input_bytes:
            raise FileRejected(_too_large(self._files.max_input_bytes))
        try:
            file = await message.get_bot().get_file(image.file_id)
        except BadRequest as error:
            if "too big" in error.message.lower():
                raise FileRejected(_too_large(self._files.max_input_bytes)) from error
            raise
        if file.file_size is not None and file.file_size > self._files.max_input_bytes:
            raise FileRejected(_too_large(self._files.max_input_bytes))
        data = await file.download_as_bytearray()
        return [self._files.check_image(bytes(data), image.filename)]


def _too_large(limit: int) -> str:
    return f"That image is too large: at most {limit / 1_000_000:g} MB."
