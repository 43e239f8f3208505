"""Stored bytes (uploaded inputs, run outputs) and how input references are resolved to bytes."""

from __future__ import annotations

import base64
import binascii
import mimetypes
import secrets
import string
from dataclasses import dataclass

import aiohttp

MAX_UPLOAD_BYTES = 250 * 1024 * 1024
_ID_ALPHABET = string.ascii_lowercase + string.digits
_UPLOADED_DATA_URIS = {"data:image/png;base64,": "png", "data:image/jpeg;base64,": "jpeg"}
_UPLOADED_DATA_URIS["data:image/jpg;base64,"] = "jpeg"


class UnsupportedFile(Exception):
    """An upload the real service refuses with 400; the message is the service's `detail`."""


class InputUnavailable(Exception):
    """An input file reference could not be turned into bytes (the run then fails)."""


@dataclass(frozen=True)
class StoredFile:
    data: bytes
    content_type: str


@dataclass(frozen=True)
class Upload:
    file_id: str
    file_name: str
    file_url: str


def _file_id_prefix(content_type: str) -> str:
    if content_type.startswith("image/"):
        return "img_"
    if content_type.startswith("video/"):
        return "vid_"
    if content_type.startswith("audio/"):
        return "audio_"
    return "zip_" if content_type == "application/zip" else "file_"


class FileStore:
    """In-memory files served without auth under the simulator's root URL."""

    def __init__(self) -> None:
        self._files: dict[str, StoredFile] = {}
        self.root_url = ""
        """`http://host:port`, set once the server is listening."""

    def put(self, path: str, data: bytes, content_type: str) -> str:
        """Store `data` at `path` (e.g. `outputs/<run>/x.png`) and return its public URL."""
        self._files[path] = StoredFile(data, content_type)
        return f"{self.root_url}/{path}"

    def get(self, path: str) -> StoredFile | None:
        return self._files.get(path)

    def save_upload(self, file_name: str, data: bytes) -> Upload:
        """`POST /api/file/upload`: check type and size like the service, then store."""
        content_type = mimetypes.guess_type(file_name)[0] or ""
        if content_type.split("/")[0] not in {"image", "video", "audio", "application"}:
            raise UnsupportedFile("Unsupported file type")
        if len(data) > MAX_UPLOAD_BYTES:
            raise UnsupportedFile("File size exceeds 250MB limit")
        file_id = _file_id_prefix(content_type) + "".join(
            secrets.choice(_ID_ALPHABET) for _ in range(16)
        )
        extension = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else "bin"
        url = self.put(f"inputs/{file_id}.{extension}", data, content_type)
        return Upload(file_id, file_name, url)

    def upload_data_uri(self, value: str) -> str | None:
        """A png/jpeg base64 data URI becomes an uploaded file's URL, as on queue (https://github.com/comfy-deploy/api)."""
        for prefix, extension in _UPLOADED_DATA_URIS.items():
            if value.startswith(prefix):
                try:
                    data = base64.b64decode(value[len(prefix) :], validate=True)
                except binascii.Error:
                    return None
                return self.save_upload(f"input.{extension}", data).file_url
        return None

    async def resolve(
        self, reference: str, session: aiohttp.ClientSession, time_limit: float
    ) -> bytes:
        """The bytes behind an input value: one of our URLs, a data URI, or any http(s) URL."""
        if self.root_url and reference.startswith(self.root_url + "/"):
            stored = self.get(reference[len(self.root_url) + 1 :])
            if stored is None:
                raise InputUnavailable(f"not found: {reference}")
            return stored.data
        if reference.startswith("data:") and ";base64," in reference:
            try:
                return base64.b64decode(reference.split(";base64,", 1)[1], validate=True)
            except binascii.Error as error:
                raise InputUnavailable("bad base64 data URI") from error
        if not reference.startswith(("http://", "https://")):
            raise InputUnavailable(f"not a URL: {reference[:80]!r}")
        try:
            async with session.get(
                reference, timeout=aiohttp.ClientTimeout(total=time_limit)
            ) as response:
                response.raise_for_status()
                return await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise InputUnavailable(f"fetch failed: {error!r}") from error
