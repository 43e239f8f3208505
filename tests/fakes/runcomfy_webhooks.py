"""Webhook deliveries of the fake RunComfy: unsigned JSON POSTs, retried, every attempt recorded.

RunComfy POSTs `Content-Type: application/json`, expects any 2xx within 10 seconds, and retries
a timeout or non-2xx "with exponential backoff for up to 24 hours"; deliveries "can be
duplicated or arrive out of order" (https://docs.runcomfy.com/serverless/webhooks). No signature
is documented. The fake retries after `backoff[i]` seconds (tests pass `(0,)`), up to `tries`
attempts, and can drop, duplicate or defer (deliver after the terminal body) chosen bodies.
Bodies of one request go out in order unless deferred.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import aiohttp

from tests.fakes.runcomfy_requests import TERMINAL
from tests.fakes.runcomfy_wire import JsonDict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of a body; `status` is None when it failed without a reply."""

    url: str
    body: JsonDict
    attempt: int
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookFault(StrEnum):
    DROP = "drop"
    DUPLICATE = "duplicate"
    DEFER = "defer"


def _state(body: JsonDict) -> str | None:
    value = body.get("status", body.get("outcome"))
    return value if isinstance(value, str) else None


@dataclass
class _Rule:
    fault: WebhookFault
    status: str | None
    remaining: int | None

    def take(self, body: JsonDict) -> bool:
        if self.remaining == 0 or (self.status is not None and _state(body) != self.status):
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


class WebhookSender:
    def __init__(
        self, backoff: Sequence[float] = (0.5, 1.0, 2.0, 4.0), tries: int = 5, timeout: float = 10
    ) -> None:
        self.backoff = tuple(backoff) or (0.0,)
        self.tries = tries
        self.timeout = timeout
        self.session: aiohttp.ClientSession | None = None
        """Set by the server while it runs."""
        self.attempts: list[WebhookAttempt] = []
        """Every attempt, in the order they finished."""
        self.dropped: list[tuple[str, JsonDict]] = []
        self._rules: list[_Rule] = []
        self._deferred: defaultdict[str, list[tuple[str, JsonDict]]] = defaultdict(list)
        self._last: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def drop(self, *, status: str | None = None, count: int | None = None) -> None:
        """Never send the next `count` bodies with this status (any status / all if None)."""
        self._rules.append(_Rule(WebhookFault.DROP, status, count))

    def duplicate(self, *, status: str | None = None, count: int | None = 1) -> None:
        """Send the next `count` matching bodies twice in a row."""
        self._rules.append(_Rule(WebhookFault.DUPLICATE, status, count))

    def defer(self, *, status: str | None = "in_progress", count: int | None = 1) -> None:
        """Hold the next `count` matching bodies and send them right after the terminal one."""
        self._rules.append(_Rule(WebhookFault.DEFER, status, count))

    def clear_faults(self) -> None:
        self._rules.clear()

    def delivered(self, request_id: str | None = None) -> list[JsonDict]:
        """Bodies that got a 2xx reply, in delivery order, optionally for one request."""
        return [
            a.body
            for a in self.attempts
            if a.ok and (request_id is None or a.body.get("request_id") == request_id)
        ]

    def emit(
        self, request_id: str, url: str | None, bodies: list[JsonDict]
    ) -> asyncio.Task[None] | None:
        """Queue `bodies` for `url` behind this request's earlier deliveries."""
        if not url or not bodies:
            return None
        sends: list[tuple[str, JsonDict]] = []
        for body in bodies:
            rule = next((r for r in self._rules if r.take(body)), None)
            fault = rule.fault if rule else None
            if fault is WebhookFault.DROP:
                self.dropped.append((url, body))
            elif fault is WebhookFault.DEFER:
                self._deferred[request_id].append((url, body))
            else:
                sends.extend([(url, body)] * (2 if fault is WebhookFault.DUPLICATE else 1))
            if _state(body) in TERMINAL:
                sends.extend(self._deferred.pop(request_id, []))
        if not sends:
            return None
        task = asyncio.create_task(self._send_all(self._last.get(request_id), sends))
        self._last[request_id] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait until every delivery started so far has succeeded or been given up."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._deferred.clear()
        self._last.clear()

    async def _send_all(
        self, before: asyncio.Task[None] | None, sends: list[tuple[str, JsonDict]]
    ) -> None:
        if before is not None:
            await asyncio.gather(before, return_exceptions=True)
        for url, body in sends:
            await self._deliver(url, body)

    async def _deliver(self, url: str, body: JsonDict) -> None:
        for number in range(1, self.tries + 1):
            if await self._try(url, body, number):
                return
            if number < self.tries:
                await asyncio.sleep(self.backoff[min(number, len(self.backoff)) - 1])
        log.info("webhook to %s given up after %d tries", url, self.tries)

    async def _try(self, url: str, body: JsonDict, number: int) -> bool:
        if self.session is None:
            raise RuntimeError("the fake RunComfy is not running")
        try:
            async with self.session.post(
                url, json=body, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            self.attempts.append(WebhookAttempt(url, body, number, None, repr(error)))
            return False
        attempt = WebhookAttempt(url, body, number, status)
        self.attempts.append(attempt)
        return attempt.ok
