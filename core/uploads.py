"""Images uploaded ahead of a run (`POST /api/v1/uploads`), kept for a day, usable as a
workflow's image input by the key that uploaded them. The engine reads one like any other
attachment: only once the run is admitted and every other input is valid."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Protocol

from core.errors import FileRejected, MediaUnavailable
from core.workflow import Frozen

UPLOAD_PREFIX = "upl_"


class Upload(Frozen):
    id: str
    owner: str
    """The user key (`api:<name>`) that uploaded it."""
    filename: str
    mime: str
    size: int
    width: int
    height: int
    created_at: datetime
    expires_at: datetime


def new_upload_id() -> str:
    return f"{UPLOAD_PREFIX}{secrets.token_hex(12)}"


def looks_like_upload(value: str) -> bool:
    return value.startswith(UPLOAD_PREFIX)


class UploadStore(Protocol):
    async def save(self, upload: Upload, data: bytes) -> None: ...

    async def get(self, upload_id: str) -> Upload | None: ...

    async def data(self, upload_id: str) -> bytes | None:
        """The file's bytes; None when it is gone."""
        ...


class StoredUpload:
    """An upload as a `core.requests.Attachment`."""

    def __init__(self, store: UploadStore, upload: Upload) -> None:
        self._store = store
        self.upload = upload

    @property
    def filename(self) -> str:
        return self.upload.filename

    @property
    def size(self) -> int | None:
        return self.upload.size

    async def read(self, max_bytes: int) -> bytes:
        if self.upload.size > max_bytes:
            raise FileRejected("input.image_too_large", limit_mb=f"{max_bytes / 1_000_000:g}")
        data = await self._store.data(self.upload.id)
        if data is None:
            raise MediaUnavailable()
        return data
