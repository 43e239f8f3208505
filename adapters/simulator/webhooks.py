"""Outbound webhook deliveries like the service's: 3 tries with backoff, no signature, recorded.

Tests can also drop, duplicate or defer (deliver after the run's terminal webhook) deliveries.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from adapters.simulator.runs import TERMINAL
from adapters.simulator.wire import JsonDict

log = logging.getLogger(__name__)

TRIES = 3
JITTER = 0.1


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of a webhook body; `status` is None when the try failed without a reply."""

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
    """Never send the body."""
    DUPLICATE = "duplicate"
    """Send the body twice."""
    DEFER = "defer"
    """Hold the body and send it after the run's terminal `run.updated`, i.e. out of order."""


@dataclass
class _Rule:
    fault: WebhookFault
    status: str | None
    event_type: str | None
    remaining: int | None

    def take(self, body: JsonDict) -> bool:
        """Whether this rule applies to `body`; using it counts down `remaining`."""
        if self.remaining == 0:
            return False
        if self.status is not None and body.get("status") != self.status:
            return False
        if self.event_type is not None and body.get("event_type") != self.event_type:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


class _Undelivered(Exception):
    pass


class WebhookSender:
    def __init__(self, backoff: tuple[float, float] = (0.5, 1.0), timeout: float = 20.0) -> None:
        self.backoff = backoff
        self.timeout = timeout
        self.session: aiohttp.ClientSession | None = None
        """Set by the server while it runs."""
        self.attempts: list[WebhookAttempt] = []
        """Every delivery attempt, in the order they finished."""
        self.dropped: list[tuple[str, JsonDict]] = []
        self._rules: list[_Rule] = []
        self._chaos: tuple[float, float, float, random.Random] | None = None
        self._deferred: defaultdict[str, list[tuple[str, JsonDict]]] = defaultdict(list)
        self._tasks: set[asyncio.Task[None]] = set()

    def drop(
        self, *, status: str | None = None, event_type: str | None = None, count: int | None = None
    ) -> None:
        """Never send the next `count` matching bodies (all of them when count is None)."""
        self._rules.append(_Rule(WebhookFault.DROP, status, event_type, count))

    def duplicate(
        self, *, status: str | None = None, event_type: str | None = None, count: int | None = 1
    ) -> None:
        """Send the next `count` matching bodies twice."""
        self._rules.append(_Rule(WebhookFault.DUPLICATE, status, event_type, count))

    def defer(
        self,
        *,
        status: str | None = "running",
        event_type: str | None = "run.updated",
        count: int | None = 1,
    ) -> None:
        """Send the next `count` matching bodies late: right after the run's terminal webhook."""
        self._rules.append(_Rule(WebhookFault.DEFER, status, event_type, count))

    def chaos(self, *, drop: float, duplicate: float, defer: float, rng: random.Random) -> None:
        """From now on every body without a rule is dropped, sent twice or sent late (after the
        run's end) with these probabilities, drawn from `rng` (seed it for a repeatable run)."""
        self._chaos = (drop, duplicate, defer, rng)

    def clear_faults(self) -> None:
        self._rules.clear()
        self._chaos = None

    def _roll(self) -> WebhookFault | None:
        if self._chaos is None:
            return None
        drop, duplicate, defer, rng = self._chaos
        point = rng.random()
        for fault, chance in (
            (WebhookFault.DROP, drop),
            (WebhookFault.DUPLICATE, duplicate),
            (WebhookFault.DEFER, defer),
        ):
            if point < chance:
                return fault
            point -= chance
        return None

    def delivered(self, run_id: str | None = None) -> list[JsonDict]:
        """Bodies that got a 2xx reply, optionally for one run only."""
        return [
            a.body
            for a in self.attempts
            if a.ok and (run_id is None or a.body.get("run_id") == run_id)
        ]

    def emit(
        self, run_id: str, url: str | None, bodies: list[JsonDict]
    ) -> asyncio.Task[None] | None:
        """Start delivering `bodies` to `url`, one after another, in a background task."""
        if not url or not bodies:
            return None
        sends: list[tuple[str, JsonDict]] = []
        for body in bodies:
            rule = next((r for r in self._rules if r.take(body)), None)
            fault = rule.fault if rule else self._roll()
            if fault is WebhookFault.DEFER and body["status"] in TERMINAL:
                fault = None  # the end itself is what deferred bodies wait for
            if fault is WebhookFault.DROP:
                self.dropped.append((url, body))
            elif fault is WebhookFault.DEFER:
                self._deferred[run_id].append((url, body))
            else:
                sends.extend([(url, body)] * (2 if fault is WebhookFault.DUPLICATE else 1))
            if body["event_type"] == "run.updated" and body["status"] in TERMINAL:
                sends.extend(self._deferred.pop(run_id, []))
        if not sends:
            return None
        task = asyncio.create_task(self._send_all(sends))
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

    async def _send_all(self, sends: list[tuple[str, JsonDict]]) -> None:
        for url, body in sends:
            await self._deliver(url, body)

    def _wait(self, state: RetryCallState) -> float:
        base = self.backoff[min(state.attempt_number, len(self.backoff)) - 1]
        return base + random.uniform(0, base * JITTER)

    async def _deliver(self, url: str, body: JsonDict) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(TRIES),
            wait=self._wait,
            retry=retry_if_exception_type(_Undelivered),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._try(url, body, attempt.retry_state.attempt_number)
        except _Undelivered:
            log.info("webhook to %s given up after %d tries", url, TRIES)

    async def _try(self, url: str, body: JsonDict, number: int) -> None:
        if self.session is None:
            raise RuntimeError("the simulator is not running")
        try:
            async with self.session.post(
                url, json=body, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            self.attempts.append(WebhookAttempt(url, body, number, None, repr(error)))
            raise _Undelivered from error
        self.attempts.append(WebhookAttempt(url, body, number, status))
        if not 200 <= status < 300:
            raise _Undelivered
