"""Every version of every message the bot sent: as sent, then after each edit.

So a test can check where a message ended up, e.g. that every status message reached its final
text without a Cancel button, even when some edits were refused (429) in between.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fakes.telegram_objects import JsonDict


@dataclass(frozen=True)
class Version:
    """A message's text (or caption) and inline keyboard at one moment."""

    text: str | None
    reply_markup: JsonDict | None

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(text, callback_data) of every inline button."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b.get("text", ""), b.get("callback_data", "")) for row in rows for b in row]


@dataclass
class MessageHistory:
    chat_id: int
    message_id: int
    versions: list[Version] = field(default_factory=list)

    @property
    def first(self) -> Version:
        return self.versions[0]

    @property
    def final(self) -> Version:
        return self.versions[-1]

    @property
    def edits(self) -> int:
        return len(self.versions) - 1


class HistoryBook:
    """The histories of the bot's messages, in the order they were sent."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[int, int], MessageHistory] = {}

    def record(self, message: JsonDict) -> None:
        """Called with the message as it is now, after a send or an edit."""
        key = (int(message["chat"]["id"]), int(message["message_id"]))
        history = self._by_key.setdefault(key, MessageHistory(*key))
        text = message.get("text", message.get("caption"))
        history.versions.append(Version(text, message.get("reply_markup")))

    def get(self, chat_id: int, message_id: int) -> MessageHistory:
        return self._by_key[(chat_id, message_id)]

    def select(
        self,
        chat_id: int | None = None,
        where: Callable[[MessageHistory], bool] = lambda h: True,
    ) -> list[MessageHistory]:
        return [
            h
            for h in self._by_key.values()
            if (chat_id is None or h.chat_id == chat_id) and where(h)
        ]
