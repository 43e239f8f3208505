"""Images given on the console as local paths (`input_image=./cat.png`), read only when a run
needs them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from core.errors import FileRejected


@dataclass(frozen=True)
class LocalImage:
    """A file on this machine, as a core.requests.Attachment."""

    path: Path

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def size(self) -> int | None:
        try:
            return self.path.stat().st_size
        except OSError:
            return None

    async def read(self, max_bytes: int) -> bytes:
        size = self.size
        if size is None or not self.path.is_file():
            raise FileRejected("input.no_such_file", path=str(self.path))
        if size > max_bytes:
            raise FileRejected("input.image_too_large", limit_mb=f"{max_bytes / 1_000_000:g}")
        return await asyncio.to_thread(self.path.read_bytes)


def is_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))
