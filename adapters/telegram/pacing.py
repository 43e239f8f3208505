"""Every message the bot sends or edits, paced per chat: one PTB rate limiter for the whole bot.

PTB hands each Bot API request to the application's rate limiter
(https://docs.python-telegram-bot.org/en/stable/telegram.ext.baseratelimiter.html), so replies
to commands, status messages, progress edits and results all share one `ChatPacer`
(core/pacing.py) with Telegram's limits: one message a second in a chat, 20 a minute in a group,
30 a second overall (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-
avoid-this). Edits take a slot like messages (Telegram documents no separate number).

New messages go before edits, and edits before progress edits (`in_background()`), in a chat
and for the overall rate alike, so under load results are what gets through first.

A 429 (`RetryAfter`, https://core.telegram.org/bots/api#responseparameters) holds that chat
alone for its `retry_after` and the request is tried again as soon as it is over, ahead of
the chat's other waiting requests. A wait longer than `max_wait_s` is not sat out here: the
error goes back to the caller (a delivery then comes back when Telegram said). Progress edits
(`in_background()`) go after everything else in their chat and are not retried: a newer view
replaces them anyway; when the overall rate is busy they are refused at once, as a `RetryAfter`
of the pacer's own (`core.pacing.Busy`), so results get the room.

A result part is journaled `sending` when its request leaves the pacer, not before its wait
(core/journal.py `leaving`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from adapters.telegram.errors import retry_seconds
from core.journal import leaving
from core.pacing import BACKGROUND, EDIT, NEW, Busy, ChatPacer, Rate, Timer

PER_CHAT = Rate(1, 1.0)
PER_GROUP = Rate(20, 60.0)
OVERALL = Rate(30, 1.0)
MAX_WAIT_S = 20.0
ATTEMPTS = 5
"""Tries of one urgent request, each after the flood wait Telegram named."""

PACED = frozenset(
    name.lower()
    for name in (
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVideo",
        "sendAnimation",
        "sendAudio",
        "sendVoice",
        "sendMediaGroup",
        "sendInvoice",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
    )
)
"""Requests that put or change a message in a chat; the rest (answers to button presses and
pre-checkout queries, getFile, setMyCommands ...) go at once."""

_background: ContextVar[bool] = ContextVar("telegram_pacing_background", default=False)

Callback = Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]]


@contextmanager
def in_background() -> Iterator[None]:
    """Requests made inside go after the chat's other requests, and are tried once."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


def priority_of(endpoint: str) -> int:
    """New messages (results, replies, status messages) first, then edits, then progress
    edits (`in_background`)."""
    if _background.get():
        return BACKGROUND
    return EDIT if endpoint.lower().startswith("edit") else NEW


def is_group(chat_id: object) -> bool:
    """Groups, supergroups and channels have negative ids (or an @username)."""
    text = str(chat_id)
    return text.startswith("@") or text.startswith("-")


class TelegramPacer(BaseRateLimiter[None]):
    def __init__(self, timer: Timer | None = None, *, max_wait_s: float = MAX_WAIT_S) -> None:
        self.pacer = ChatPacer(OVERALL, timer)
        self._max_wait_s = max_wait_s

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        if chat_id is None or endpoint.lower() not in PACED:
            await leaving()
            return await callback(*args, **kwargs)
        chat = str(chat_id)
        rates = (PER_CHAT, PER_GROUP) if is_group(chat) else (PER_CHAT,)
        priority = priority_of(endpoint)
        retrying = AsyncRetrying(
            retry=retry_if_exception(self._sat_out),
            stop=stop_after_attempt(ATTEMPTS if priority < BACKGROUND else 1),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    async with self.pacer.turn(chat, rates, priority):
                        await leaving()  # a result part is marked `sending` only now
                        try:
                            return await callback(*args, **kwargs)
                        except RetryAfter as error:
                            if self._sat_out(error):
                                self.pacer.hold(chat, retry_seconds(error))
                            raise
        except Busy as busy:
            raise RetryAfter(timedelta(seconds=busy.retry_after)) from busy
        raise AssertionError("tenacity re-raises the last error")  # pragma: no cover

    def _sat_out(self, error: BaseException) -> bool:
        """A flood wait short enough to wait here (the chat's turn waits it out)."""
        return isinstance(error, RetryAfter) and retry_seconds(error) <= self._max_wait_s
