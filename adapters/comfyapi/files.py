"""A Comfy API v2 server's files: user images uploaded as assets (`POST /api/v2/assets`,
multipart `file` + `file_path` under `input/`, deduplicated by hash), and outputs streamed to
disk with a size cap (https://github.com/Comfy-Org/comfy-api-proxy)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import IO

import aiohttp
from yarl import URL

from adapters.comfyapi.retry import READ, REPEATABLE
from adapters.comfyapi.transport import Request, Transport, refusal
from core.errors import BackendError, BackendUnavailable, FileTooLarge

CHUNK = 64 * 1024
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


class AssetFiles:
    def __init__(
        self, http: Transport, assets_url: str, origin: URL, timeout: aiohttp.ClientTimeout
    ) -> None:
        self._http = http
        self._assets = URL(assets_url, encoded=True)
        self._origin = origin
        self._timeout = timeout

    async def upload(self, filename: str, mime: str, data: bytes) -> str:
        """`POST /api/v2/assets` -> the asset id. Stored under `input/comfybot/` by content
        hash, so the same picture is one asset (the server deduplicates it too)."""
        digest = hashlib.sha256(data).hexdigest()[:24]
        ext = _EXTENSIONS.get(mime) or filename.rsplit(".", 1)[-1].lower() or "bin"
        path = f"input/comfybot/{digest}.{ext}"

        def form() -> aiohttp.FormData:
            payload = aiohttp.FormData()
            payload.add_field("file", data, filename=f"{digest}.{ext}", content_type=mime)
            payload.add_field("file_path", path)
            payload.add_field("content_type", mime)
            return payload

        request = Request("POST", self._assets, "upload asset", REPEATABLE, form=form)
        reply = await self._http.call(request)
        if not reply.ok:
            raise refusal(request, reply)
        asset = self._http.decode(request, reply)
        asset_id = asset.get("id") if isinstance(asset, dict) else None
        if not isinstance(asset_id, str) or not asset_id:
            raise BackendUnavailable("upload asset: reply has no id", 200)
        return asset_id

    async def download(self, url: str, target: Path, max_bytes: int) -> int:
        """Stream an output to `target` (never held in memory); returns its size. The key goes
        only to the API's own origin (its output URLs are its own `/api/v2/assets/{id}/content`),
        never to a storage host."""
        source = URL(url)
        if not source.is_absolute() or source.scheme not in ("http", "https"):
            raise BackendError(f"fetch output: not an absolute http(s) URL: {url[:80]!r}")
        partial = target.with_name(target.name + ".part")

        async def write_capped(resp: aiohttp.ClientResponse) -> bytes:
            if resp.content_length is not None and resp.content_length > max_bytes:
                raise FileTooLarge(max_bytes)
            size = 0
            out = await asyncio.to_thread(_open_for_writing, partial)
            try:
                async for chunk in resp.content.iter_chunked(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise FileTooLarge(max_bytes)
                    await asyncio.to_thread(out.write, chunk)
            finally:
                await asyncio.to_thread(out.close)
            return b""

        request = Request(
            "GET",
            source,
            f"fetch output from {source.host}",
            READ,
            auth=source.origin() == self._origin,
            timeout=self._timeout,
            reader=write_capped,
        )
        try:
            reply = await self._http.call(request)
            if not reply.ok:
                raise refusal(request, reply)
            await asyncio.to_thread(partial.replace, target)
        finally:
            await asyncio.to_thread(partial.unlink, missing_ok=True)
        return (await asyncio.to_thread(target.stat)).st_size


def _open_for_writing(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("wb")
