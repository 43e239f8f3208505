"""Parts of a message to copy with one tap: `code` entities (https://core.telegram.org/bots/api#messageentity)
over run ids and commands, so no parse mode (and no escaping) is needed for the rest."""

from __future__ import annotations

from collections.abc import Iterable

from telegram import MessageEntity


def code_entities(text: str, copyable: Iterable[str]) -> list[MessageEntity]:
    """`code` entities over each occurrence of the copyable parts; offsets and lengths in UTF-16
    code units, as Telegram counts them."""
    spans: list[tuple[int, int]] = []
    for part in dict.fromkeys(p for p in copyable if p):
        start = text.find(part)
        while start != -1:
            end = start + len(part)
            if not any(a < end and start < b for a, b in spans):
                spans.append((start, end))
            start = text.find(part, end)
    return [
        MessageEntity(MessageEntity.CODE, _utf16(text[:start]), _utf16(text[start:end]))
        for start, end in sorted(spans)
    ]


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
