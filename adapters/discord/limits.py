"""Discord's sizes that shape what the bot sends.

https://discord.com/developers/docs/resources/message#create-message: content up to 2,000
characters, up to 10 embeds and 10 files a message. https://discord.com/developers/docs/
reference#uploading-files: 10 MiB a file unless the guild's boost or the interaction's
`attachment_size_limit` allows more. https://discord.com/developers/docs/interactions/
receiving-and-responding: an interaction token works for 15 minutes.
"""

from __future__ import annotations

from datetime import timedelta

MIB = 1024 * 1024
CONTENT_MAX = 2000
FILES_PER_MESSAGE = 10
DEFAULT_FILE_LIMIT = 10 * MIB
REQUEST_MAX = 25 * MIB
"""The largest Create Message request documented; a message's files together stay below."""
TOKEN_LIFETIME = timedelta(minutes=15)
TOKEN_MARGIN = timedelta(seconds=60)
"""Edits through a token stop this long before it expires (an edit takes a moment, and our
clock and Discord's may differ a little)."""
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FIELDS_MAX = 25


def fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def split_text(text: str, limit: int = CONTENT_MAX) -> list[str]:
    """Pieces of at most `limit` characters, cut at line ends where possible."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n")
    if rest or not pieces:
        pieces.append(rest)
    return pieces
