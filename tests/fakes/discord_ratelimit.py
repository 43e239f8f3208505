"""Per-route rate limit buckets and injected 429s, with Discord's headers and body.

https://discord.com/developers/docs/topics/rate-limits: every answer carries
`X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket`; a 429 adds `Retry-After` and
`X-RateLimit-Scope` (and `X-RateLimit-Global` for the global limit) with the JSON body
`{"message": "You are being rate limited.", "retry_after": 0.05, "global": false}`.
Buckets are per route template and top-level resource (channel, guild, webhook + token).

Windows run on real time (clients sleep in real time on these headers), not the fake clock.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.fakes.discord_errors import DiscordError

DEFAULT_LIMIT = (1000, 1.0)
"""Advertised but practically unreachable unless a test sets a route's limit."""


@dataclass
class Bucket:
    limit: int
    per: float
    remaining: int
    reset_at: float


@dataclass
class Fault:
    """One injected failure: a 429 (route or global), a Cloudflare-style 429, or any error."""

    retry_after: float = 0.05
    is_global: bool = False
    scope: str = "user"
    cloudflare: bool = False
    error: DiscordError | None = None


class CloudflareBan(Exception):
    """A 429 without Discord's JSON or `Via` header, as Cloudflare's ban page answers."""


class RateLimits:
    def __init__(
        self,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._monotonic = monotonic
        self._wall = wall
        self._limits: dict[str, tuple[int, float]] = {}
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._faults: dict[str, list[Fault]] = {}
        self.limited: list[tuple[str, str, float]] = []
        """(route, major parameter, retry_after) of every 429 the fake answered."""

    def set_limit(self, route: str, limit: int, per: float) -> None:
        """Enforce `limit` requests per `per` seconds on `route` for each top-level resource."""
        self._limits[route] = (limit, per)
        for key in [k for k in self._buckets if k[0] == route]:
            del self._buckets[key]

    def fail_next(self, route: str, fault: Fault, times: int = 1) -> None:
        self._faults.setdefault(route, []).extend([fault] * times)

    @staticmethod
    def bucket_hash(route: str) -> str:
        return hashlib.sha1(route.encode()).hexdigest()[:32]

    def check(self, route: str, major: str) -> dict[str, str]:
        """Headers for an allowed request; raises DiscordError(429) (or CloudflareBan)."""
        faults = self._faults.get(route)
        if faults:
            fault = faults.pop(0)
            if fault.error is not None:
                raise fault.error
            if fault.cloudflare:
                raise CloudflareBan()
            raise self._too_many(route, major, fault.retry_after, fault.is_global, fault.scope)
        now = self._monotonic()
        key = (route, major)
        bucket = self._buckets.get(key)
        if bucket is None or now >= bucket.reset_at:
            limit, per = self._limits.get(route, DEFAULT_LIMIT)
            bucket = self._buckets[key] = Bucket(limit, per, limit, now + per)
        if bucket.remaining <= 0:
            raise self._too_many(route, major, bucket.reset_at - now, False, "user", bucket)
        bucket.remaining -= 1
        return self._headers(route, bucket, now)

    def _headers(self, route: str, bucket: Bucket, now: float) -> dict[str, str]:
        reset_after = _ceil_ms(bucket.reset_at - now)
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(bucket.remaining),
            "X-RateLimit-Reset": f"{self._wall() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.bucket_hash(route),
        }

    def _too_many(
        self,
        route: str,
        major: str,
        retry_after: float,
        is_global: bool,
        scope: str,
        bucket: Bucket | None = None,
    ) -> DiscordError:
        retry_after = _ceil_ms(retry_after)
        self.limited.append((route, major, retry_after))
        now = self._monotonic()
        if bucket is None:
            limit, per = self._limits.get(route, DEFAULT_LIMIT)
            bucket = Bucket(limit, per, 0, now + retry_after)
        headers = {"Retry-After": str(math.ceil(retry_after)), "X-RateLimit-Scope": scope}
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(self._headers(route, bucket, now))
        error = DiscordError(429, None, "You are being rate limited.", headers=headers)
        error.extra = {"retry_after": retry_after, "global": is_global}
        return error


def _ceil_ms(seconds: float) -> float:
    """Seconds rounded up to the millisecond, so a client waiting exactly that long is never
    early."""
    return max(0.001, math.ceil(seconds * 1000) / 1000)
