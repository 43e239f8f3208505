"""Which URLs the bot fetches outputs from. Output URLs come from a backend's answers, which
whoever learns a webhook URL could try to imitate; the bot fetches only from hosts a backend
stores its outputs on (or the operator added), over https, so it can never be made to post one
of its own internal pages (its `/metrics`, say) into a chat as an "image"."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


class OutputHosts:
    def __init__(self, patterns: Iterable[str]) -> None:
        """`patterns`: `host`, `*.domain` (https only), or a whole origin `scheme://host:port`
        (that scheme allowed: the operator configured that origin, e.g. a local ComfyUI)."""
        self._hosts: set[str] = set()
        self._suffixes: set[str] = set()
        self._origins: set[str] = set()
        for raw in patterns:
            pattern = raw.strip().lower().rstrip("/")
            if not pattern:
                continue
            if "://" in pattern:
                self._origins.add(_origin(pattern))
            elif pattern.startswith("*."):
                self._suffixes.add(pattern[1:])
            else:
                self._hosts.add(pattern)

    def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        if not parts.scheme or not parts.hostname:
            return False
        if _origin(url) in self._origins:
            return True
        if parts.scheme != "https":
            return False
        host = parts.hostname.lower()
        return host in self._hosts or any(host.endswith(s) for s in self._suffixes)


def _origin(url: str) -> str:
    parts = urlsplit(url.lower())
    default = {"https": 443, "http": 80}.get(parts.scheme)
    port = parts.port or default
    return f"{parts.scheme}://{parts.hostname}:{port}"
