"""RATE_LIMIT_PER_USER: commands per minute, counted in the database so that several bot
processes share one count. A flood gets one clear answer, then silence until the minute ends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.ports import Clock, RateLimiter


class Pace(StrEnum):
    OK = "ok"
    SLOW_DOWN = "slow_down"
    """The first command past the limit in this window: told why it is ignored."""
    IGNORED = "ignored"
    """Later ones: no answer at all."""


@dataclass(frozen=True)
class RateWindow:
    """A fixed one-minute window: its name and when it can be forgotten."""

    name: str
    ends_at: datetime

    @classmethod
    def of(cls, now: datetime) -> RateWindow:
        start = now.replace(second=0, microsecond=0)
        return cls(start.strftime("%Y%m%d%H%M"), start + timedelta(minutes=1))

    def seconds_left(self, now: datetime) -> int:
        return max(1, round((self.ends_at - now).total_seconds()))


class Pacer:
    """RATE_LIMIT_PER_USER applied to one user's command."""

    def __init__(self, limiter: RateLimiter, per_minute: int, clock: Clock) -> None:
        self._limiter = limiter
        self._per_minute = per_minute
        self._clock = clock

    async def check(self, user: str) -> tuple[Pace, int]:
        """How this command stands, and the seconds until the user may go on."""
        if not self._per_minute:
            return Pace.OK, 0
        now = self._clock.now()
        window = RateWindow.of(now)
        pace = await self._limiter.hit(user, self._per_minute, window.name, window.ends_at)
        return pace, window.seconds_left(now)
