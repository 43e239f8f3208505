"""A user's file from a slash command's attachment option (core.requests.Attachment).

The interaction carries the file's size, name and CDN URL
(https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-
resolved-data-structure, https://discord.com/developers/docs/resources/message#attachment-
object). It is downloaded only when the engine asks (after the ban check and every other
input's validation), only from Discord's CDN hosts or the configured API host (a proxy or a
fake may serve files there), without redirects, within a timeout and a byte cap; the bytes'
type is checked by the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import yarl

from core.errors import FileRejected, MediaUnavailable

CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
CHUNK = 64 * 1024


class AttachmentFetcher:
    """Downloads users' files over one HTTP session, from allowed hosts only."""

    def __init__(
        self, extra_origin: tuple[str, str, int | None] | None, timeout_s: float = 30.0
    ) -> None:
        self._extra_origin = extra_origin
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def allowed(self, url: str) -> bool:
        parsed = yarl.URL(url)
        if parsed.scheme == "https" and parsed.host in CDN_HOSTS:
            return True
        return (parsed.scheme, parsed.host or "", parsed.port) == self._extra_origin

    async def fetch(self, url: str, max_bytes: int) -> bytes:
        if not self.allowed(url):
            raise MediaUnavailable()
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.get(url, allow_redirects=False) as response:
                if response.status != 200:
                    raise MediaUnavailable()
                if (response.content_length or 0) > max_bytes:
                    raise _too_large(max_bytes)
                data = bytearray()
                async for chunk in response.content.iter_chunked(CHUNK):
                    data += chunk
                    if len(data) > max_bytes:
                        raise _too_large(max_bytes)
                return bytes(data)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise MediaUnavailable() from error

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@dataclass(frozen=True)
class DiscordAttachment:
    fetcher: AttachmentFetcher
    url: str
    filename: str
    size: int | None

    @classmethod
    def of(cls, fetcher: AttachmentFetcher, resolved: Mapping[str, Any]) -> DiscordAttachment:
        size = resolved.get("size")
        return cls(
            fetcher,
            str(resolved.get("url") or ""),
            str(resolved.get("filename") or "image"),
            size if isinstance(size, int) else None,
        )

    async def read(self, max_bytes: int) -> bytes:
        if self.size is not None and self.size > max_bytes:
            raise _too_large(max_bytes)
        return await self.fetcher.fetch(self.url, max_bytes)


def _too_large(limit: int) -> FileRejected:
    return FileRejected("input.image_too_large", limit_mb=f"{limit / 1_000_000:g}")
