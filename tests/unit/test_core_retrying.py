"""The one retry rule every external call follows: the server's wait honoured (capped), a wait
longer than the call can afford fails at once, and each retry is logged without the payload."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from core.retrying import RetryableFailure, WaitRetryAfter, attempts, parse_retry_after

NOW = datetime(2026, 12, 2, 8, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("-4", 0.0),
        ("Wed, 02 Dec 2026 08:00:30 GMT", 30.0),
        ("Wed, 02 Dec 2026 07:59:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


async def test_the_servers_wait_is_waited_capped_and_a_longer_one_than_allowed_fails_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    slept: list[float] = []
    answers = [RetryableFailure("HTTP 429", 429, 2.0), RetryableFailure("HTTP 503", 503, 90.0)]

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def call() -> str:
        if answers:
            raise answers.pop(0)
        return "done"

    log = logging.getLogger("test.retrying")
    capped = attempts(3, WaitRetryAfter(0.1, 10.0), sleep, log=log, what="backend get run")
    with caplog.at_level(logging.WARNING, logger="test.retrying"):
        assert await capped(call) == "done"
    assert slept == [2.0, 10.0]
    assert "backend get run failed (attempt 1: HTTP 429); retrying in 2.00s" in caplog.text

    answers[:] = [RetryableFailure("HTTP 429", 429, 60.0)]
    impatient = attempts(
        3, WaitRetryAfter(0.1, 120.0), sleep, log=log, what="submit", max_wait_s=30.0
    )
    with pytest.raises(RetryableFailure, match="HTTP 429"):
        await impatient(call)
    assert slept == [2.0, 10.0]  # nothing more was waited
