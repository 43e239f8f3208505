"""How comfybot repeats an external call: explicit attempts, the server's Retry-After honoured.

Waits back off exponentially with jitter (`base_s * 2**n + U(0, base_s)`, capped at `max_s`).
A failure that carries the server's wait (`Retry-After` as seconds or an HTTP date,
https://www.rfc-editor.org/rfc/rfc9110#field.retry-after) is waited exactly that long, still
capped; a call may refuse waits longer than its `max_wait_s` and fail at once instead, so the
run can go elsewhere. Which answers are worth another attempt is the call's `RetryPolicy`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

THROTTLED = frozenset({429, 503})
"""Answers that may say when to come back (`Retry-After`)."""
GATEWAY_STATUSES = frozenset({429, 502, 503, 504})
"""Answers from whatever fronts an API, or a refusal to take the request: nothing was done."""

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures of one kind of call are worth another attempt."""

    retry_5xx: bool
    """Retry every 5xx (reads), or only the `never_handled` ones."""
    retry_after_send: bool
    """Retry a timeout or a dropped connection after the request may have arrived."""
    never_handled: frozenset[int] = GATEWAY_STATUSES
    """Answers that prove the request was not acted on: safe to repeat for any call."""

    def retries_status(self, status: int) -> bool:
        return status in self.never_handled or (self.retry_5xx and status >= 500)


class RetryableFailure(Exception):
    """One attempt failed in a way the policy retries; carries the server's answer, if any."""

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
    """`Retry-After` in seconds from now: delta-seconds or an HTTP date; None when unusable."""
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
    """The server's wait when the failure carries one, else exponential backoff with jitter."""

    def __init__(self, base_s: float, max_s: float) -> None:
        self.max_s = max_s
        self.fallback = wait_exponential_jitter(multiplier=base_s, max=max_s, jitter=base_s)

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(failure, RetryableFailure) and failure.retry_after is not None:
            return min(failure.retry_after, self.max_s)
        return float(self.fallback(retry_state))


def attempts(
    tries: int,
    wait: WaitRetryAfter,
    sleep: Sleep,
    *,
    log: logging.Logger,
    what: str,
    max_wait_s: float | None = None,
) -> AsyncRetrying:
    """Up to `tries` attempts that repeat on `RetryableFailure` (unless the server asks for a
    wait longer than `max_wait_s`), log each retry as `<what> failed …`, and re-raise the last
    failure."""

    def worth_retrying(error: BaseException) -> bool:
        if not isinstance(error, RetryableFailure):
            return False
        return max_wait_s is None or error.retry_after is None or error.retry_after <= max_wait_s

    def before_sleep(state: RetryCallState) -> None:
        outcome = state.outcome
        reason = outcome.exception() if outcome is not None and outcome.failed else None
        pause = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s failed (attempt %d: %s); retrying in %.2fs",
            what,
            state.attempt_number,
            reason,
            pause,
        )

    return AsyncRetrying(
        stop=stop_after_attempt(max(1, tries)),
        wait=wait,
        retry=retry_if_exception(worth_retrying),
        sleep=sleep,
        reraise=True,
        before_sleep=before_sleep,
    )
