"""The retry policy of the Comfy API v2 client: which failures get another attempt, and when.

Waits back off exponentially with jitter, capped at `backoff_max_s`. A 429 or 503 that carries
`Retry-After` (seconds or an HTTP date, https://www.rfc-editor.org/rfc/rfc9110#field.retry-after)
is waited exactly that long, still capped. Comfy Cloud answers a full queue with 429
`queue_full` and `Retry-After` (https://docs.comfy.org/development/deploy/cloud-usage).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import RetryCallState
from tenacity.wait import wait_base, wait_exponential_jitter

THROTTLED = frozenset({429, 503})
"""Replies that may say when to come back (`Retry-After`)."""
NEVER_HANDLED = frozenset({429, 502, 504})
"""Replies from whatever fronts the API: the request was not acted on."""


@dataclass(frozen=True)
class RetryPolicy:
    retry_5xx: bool
    """Retry any 5xx (reads), or only 429/502/504."""
    retry_after_send: bool
    """Retry a timeout or a dropped connection after the request may have arrived."""

    def retries_status(self, status: int) -> bool:
        return status in NEVER_HANDLED or (self.retry_5xx and status >= 500)


READ = RetryPolicy(retry_5xx=True, retry_after_send=True)
"""GETs: repeating them changes nothing."""
REPEATABLE = RetryPolicy(retry_5xx=False, retry_after_send=True)
"""Cancel (idempotent by contract) and asset uploads (deduplicated by hash)."""
SUBMIT = RetryPolicy(retry_5xx=False, retry_after_send=False)
"""Creating a job: it carries an Idempotency-Key, so a repeat cannot make a second job (it is
refused with `idempotency_key_reuse`); the client decides itself what an unanswered request
means. A 503 is never repeated: behind comfy-api-proxy it may mean that ComfyUI queued the
job but the answer was lost, and the key stays claimed."""


class RetryableFailure(Exception):
    """One attempt failed in a way the policy retries; carries the server's Retry-After."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.code = code


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` in seconds from now; None when absent or unusable."""
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
    """The server's Retry-After when the failure carries one, else exponential backoff."""

    def __init__(self, base_s: float, max_s: float) -> None:
        self.max_s = max_s
        self.fallback = wait_exponential_jitter(multiplier=base_s, max=max_s, jitter=base_s)

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(failure, RetryableFailure) and failure.retry_after is not None:
            return min(failure.retry_after, self.max_s)
        return float(self.fallback(retry_state))
