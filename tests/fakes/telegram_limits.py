"""Flood limits as Telegram states them, enforced by the fake when a test opts in.

The Bot FAQ (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this):

* inside a particular chat, avoid more than one message per second; "short bursts" over it may
  be allowed (no number is given, so the burst is a setting: `Rate(3, 3.0)` lets three go at
  once and then averages one a second);
* no more than 20 messages per minute to the same group;
* bulk notifications: "not more than 30 messages per second or so" overall.

Edits count too: Telegram documents no number for them, but edits are known to be limited like
messages (https://grammy.dev/advanced/flood, "What the Exact Limits Are"), so by default every
edit takes a slot like a message. An album (sendMediaGroup) is one request and takes one slot.

Every limit is a sliding window: at most `count` accepted requests in any `seconds`. A request
over a limit is refused with 429 and `retry_after` = whole seconds until the window has room,
the way Telegram answers (https://core.telegram.org/bots/api#responseparameters).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tests.fakes.telegram_calls import ApiError

Clock = Callable[[], float]
"""Seconds from any fixed point, like `time.monotonic`."""

SENDS = frozenset(
    m.lower()
    for m in [
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVideo",
        "sendAnimation",
        "sendAudio",
        "sendVoice",
        "sendVideoNote",
        "sendSticker",
        "sendMediaGroup",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendDice",
        "sendInvoice",
        "sendPaidMedia",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
    ]
)
EDITS = frozenset(
    m.lower()
    for m in [
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
        "editMessageLiveLocation",
    ]
)


class ManualClock:
    """A monotonic clock the test moves: `clock.advance(1.5)`; pass it as `clock=`."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Rate:
    """At most `count` requests in any `seconds`."""

    count: int
    seconds: float


@dataclass(frozen=True)
class FloodLimits:
    """Which limits apply; `None` turns one off. Defaults are the FAQ's numbers."""

    per_chat: Rate | None = Rate(1, 1.0)
    per_group: Rate | None = Rate(20, 60.0)
    overall: Rate | None = Rate(30, 1.0)
    count_edits: bool = True

    def counts(self, method: str) -> bool:
        name = method.lower()
        return name in SENDS or (self.count_edits and name in EDITS)


class Window:
    """The times of the requests a `Rate` let through, oldest first."""

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more request fits (0: it fits now)."""
        while self.times and self.times[0] <= now - self.rate.seconds:
            self.times.popleft()
        if len(self.times) < self.rate.count:
            return 0.0
        return self.times[len(self.times) - self.rate.count] + self.rate.seconds - now

    def take(self, now: float) -> None:
        self.times.append(now)


class FloodControl:
    """Checks a request against its chat's windows and the overall one."""

    def __init__(self, limits: FloodLimits, clock: Clock = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._chats: dict[int | str, list[Window]] = {}
        self._overall = [Window(limits.overall)] if limits.overall else []

    def check(self, method: str, chat_id: int | str | None) -> None:
        """Raise the 429 Telegram would send, or return if the request may go."""
        if chat_id is None or not self.limits.counts(method):
            return
        now = self.clock()
        wait = max((w.wait(now) for w in self._windows(chat_id)), default=0.0)
        if wait > 0:
            seconds = max(1, math.ceil(round(wait, 6)))
            raise ApiError(429, f"Too Many Requests: retry after {seconds}", seconds)

    def accepted(self, method: str, chat_id: int | str | None) -> None:
        """A request that `check` let through succeeded: it takes its slots."""
        if chat_id is None or not self.limits.counts(method):
            return
        now = self.clock()
        for window in self._windows(chat_id):
            window.take(now)

    def _windows(self, chat_id: int | str) -> list[Window]:
        windows = self._chats.get(chat_id)
        if windows is None:
            rates = [self.limits.per_chat]
            if _is_group(chat_id):
                rates.append(self.limits.per_group)
            windows = [Window(rate) for rate in rates if rate is not None]
            self._chats[chat_id] = windows
        return [*windows, *self._overall]


def _is_group(chat_id: int | str) -> bool:
    """Groups, supergroups and channels have negative ids (or an @username)."""
    return isinstance(chat_id, str) or chat_id < 0
