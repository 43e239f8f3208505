"""A user's file as a platform would hand it to the engine, from bytes in the test."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from PIL import Image

from core.errors import FileRejected


@dataclass
class BytesAttachment:
    data: bytes
    filename: str = "photo.png"
    declared_size: int | None = None
    reads: list[int] = field(default_factory=list)
    """The `max_bytes` of every read: a test can tell whether the file was downloaded."""

    @property
    def size(self) -> int | None:
        return self.declared_size

    async def read(self, max_bytes: int) -> bytes:
        self.reads.append(max_bytes)
        if len(self.data) > max_bytes:
            raise FileRejected("input.image_too_large", limit_mb=f"{max_bytes / 1_000_000:g}")
        return self.data


def png(size: tuple[int, int] = (16, 16), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()
