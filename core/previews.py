"""The latest preview image of each running run, in this process only: a backend that streams
previews puts them here, and a platform that can show them without flooding (the HTTP run
API's event stream) follows a run's board and sends the newest one now and then.

A preview is a hint, never stored: one per run (the newest replaces the last), capped in size,
dropped when the run's stream ends or after a while unseen (`ttl_s`), so a lost run leaves
nothing behind."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count

from cachetools import TTLCache

MAX_PREVIEW_BYTES = 512 * 1024
PREVIEW_TTL_S = 600.0
MAX_RUNS = 1024

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_mime(data: bytes) -> str | None:
    """The image type its first bytes show (PNG, JPEG, GIF, WebP), else None
    (https://www.w3.org/TR/png/#5PNG-file-signature, https://developers.google.com/speed/webp/docs/riff_container)."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class Preview:
    number: int
    """Grows with every preview put on the board (any run): newer means larger."""
    mime: str
    data: bytes


class PreviewBoard:
    def __init__(self, max_bytes: int = MAX_PREVIEW_BYTES, ttl_s: float = PREVIEW_TTL_S) -> None:
        self.max_bytes = max_bytes
        self._latest: TTLCache[str, Preview] = TTLCache(maxsize=MAX_RUNS, ttl=ttl_s)
        self._numbers = count(1)
        self._followers: defaultdict[str, set[Callable[[], None]]] = defaultdict(set)

    def put(self, run_id: str, data: bytes) -> Preview | None:
        """Keep `data` as the run's latest preview if it is an image within the cap, and tell
        the run's followers. None when refused."""
        mime = image_mime(data)
        if mime is None or len(data) > self.max_bytes:
            return None
        preview = Preview(next(self._numbers), mime, data)
        self._latest[run_id] = preview
        for follower in list(self._followers.get(run_id, ())):
            follower()
        return preview

    def latest(self, run_id: str) -> Preview | None:
        return self._latest.get(run_id)

    def drop(self, run_id: str) -> None:
        """The run ended (or its stream did): its preview is no longer news."""
        self._latest.pop(run_id, None)

    @contextmanager
    def following(self, run_id: str, notify: Callable[[], None]) -> Iterator[None]:
        """Call `notify` on each new preview of `run_id` while inside."""
        self._followers[run_id].add(notify)
        try:
            yield
        finally:
            followers = self._followers.get(run_id)
            if followers is not None:
                followers.discard(notify)
                if not followers:
                    del self._followers[run_id]
