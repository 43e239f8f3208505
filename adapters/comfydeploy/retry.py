"""The retry policy of the ComfyDeploy client: what is retried, and how long to wait.

Waits are exponential with jitter (`backoff_base_s * 2**n + U(0, backoff_base_s)`, capped at
`backoff_max_s`). A 429/503 reply that carries `Retry-After` (seconds or an HTTP date) is waited
exactly that long instead, still capped at `backoff_max_s`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import RetryCallState
from tenacity.wait import wait_base, wait_exponential_jitter

RETRY_AFTER_STATUSES = frozenset({429, 503})
GATEWAY_STATUSES = frozenset({429, 502, 503, 504})
"""Replies that mean the API itself never handled the request: safe to retry any call."""


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures of one kind of call are worth another attempt."""

    retry_5xx: bool
    """Retry every 5xx (safe calls) or only the gateway ones (429/502/503/504)."""
    retry_after_send: bool
    """Retry timeouts and dropped connections that happen after the request may have arrived."""

    def retries_status(self, status: int) -> bool:
        return status in GATEWAY_STATUSES or (self.retry_5xx and status >= 500)


SAFE = RetryPolicy(retry_5xx=True, retry_after_send=True)
"""GETs: repeating them changes nothing."""
REPEATABLE = RetryPolicy(retry_5xx=False, retry_after_send=True)
"""Cancel and upload: a repeat is harmless, but a 500 carries a real answer (e.g. not found)."""
NOT_IDEMPOTENT = RetryPolicy(retry_5xx=False, retry_after_send=False)
"""Queueing a run: a repeat after the server may have seen it could start a second, paid run."""


class RetryableFailure(Exception):
    """One attempt failed in a way the policy retries; carries the server's Retry-After."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date; None when unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class WaitRetryAfter(wait_base):
    """Honour the server's Retry-After when the failure carries one; else back off with jitter."""

    def __init__(self, base_s: float, max_s: float) -> None:
        self.max_s = max_s
        self.fallback = wait_exponential_jitter(multiplier=base_s, max=max_s, jitter=base_s)

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(failure, RetryableFailure) and failure.retry_after is not None:
            return min(failure.retry_after, self.max_s)
        return float(self.fallback(retry_state))
