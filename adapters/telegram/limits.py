"""Telegram's size limits (https://core.telegram.org/bots/api) and fitting text into them."""

from __future__ import annotations

PHOTO_MAX_BYTES = 10_000_000
"""sendPhoto takes photos up to 10 MB; anything larger goes as a document."""
UPLOAD_MAX_BYTES = 50_000_000
"""The official Bot API server takes uploads up to 50 MB; a self-hosted one lifts this."""
TEXT_MAX = 4096
CAPTION_MAX = 1024
ALBUM_MAX = 10
CALLBACK_ANSWER_MAX = 200
INVOICE_TITLE_MAX = 32
INVOICE_DESCRIPTION_MAX = 255


def fit_text(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def split_text(text: str, limit: int = TEXT_MAX) -> list[str]:
    """Pieces of at most `limit` characters, broken at line ends where possible."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    if rest.strip():
        pieces.append(rest)
    return pieces
