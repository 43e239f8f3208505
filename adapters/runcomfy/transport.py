"""HTTP exchanges with RunComfy under the retry policy; library errors become core errors.

RunComfy's errors are `{error_code, error_message, detail?}` with a numeric code (HTTP status x
1000 + n, e.g. 404001), and some come with HTTP 200: deployment gating errors (10001
InsufficientFunds, 10002 DisabledDeployment, 10003 DeletedDeployment) and occasionally others
(https://docs.runcomfy.com/serverless/error-codes). Every answer is therefore checked for a
top-level `error_code`; an error code of the `######` kind counts as its HTTP status for the
retry policy (a 200 carrying 500001 is retried like a 500).

The token goes only into the Authorization header, and is scrubbed from every message built here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from core.errors import BackendUnavailable, OutcomeUnknown
from core.retrying import (
    THROTTLED,
    RetryableFailure,
    RetryPolicy,
    Sleep,
    WaitRetryAfter,
    attempts,
    parse_retry_after,
)

log = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any = None
    """The decoded JSON (None when the body was not JSON)."""
    error_code: int | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 and self.error_code is None

    @property
    def effective_status(self) -> int:
        """The HTTP status an error code stands for (500001 -> 500), else the real one."""
        code = self.error_code
        return code // 1000 if code is not None and 100_000 <= code < 600_000 else self.status


@dataclass(frozen=True)
class Request:
    method: str
    url: URL
    what: str
    policy: RetryPolicy
    json_body: Any = None
    params: Mapping[str, str] | None = None
    max_wait_s: float | None = None
    """Longest server-asked wait worth waiting for; longer ones fail the call at once."""


class Transport:
    def __init__(
        self,
        session: Callable[[], aiohttp.ClientSession],
        token: str,
        timeout: aiohttp.ClientTimeout,
        retries: int,
        backoff_base_s: float,
        backoff_max_s: float,
        sleep: Sleep,
    ) -> None:
        self._session = session
        self._token = token
        self._timeout = timeout
        self._retries = max(0, retries)
        self._wait = WaitRetryAfter(backoff_base_s, backoff_max_s)
        self._sleep = sleep

    def redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    async def call(self, request: Request, retries: int | None = None) -> Reply:
        """Send with retries. Spent retries on an error answer return that answer; on no
        answer at all, `BackendUnavailable`."""
        retrying = attempts(
            (self._retries if retries is None else max(0, retries)) + 1,
            self._wait,
            self._sleep,
            log=log,
            what=f"runcomfy {request.what}",
            max_wait_s=request.max_wait_s,
        )
        try:
            return await retrying(self._attempt, request)
        except RetryableFailure as failure:
            if failure.status is not None:
                return Reply(failure.status, None, None, failure.message)
            raise BackendUnavailable(f"{request.what}: {failure.message}") from None

    async def _attempt(self, request: Request) -> Reply:
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with self._session().request(
                request.method,
                request.url,
                headers=headers,
                json=request.json_body,
                params=request.params,
                timeout=self._timeout,
            ) as resp:
                raw = await resp.content.read(MAX_BODY)
                reply = _reply(resp.status, raw)
                if not reply.ok and request.policy.retries_status(reply.effective_status):
                    wait = None
                    if resp.status in THROTTLED:
                        wait = parse_retry_after(resp.headers.get("Retry-After"))
                    text = f"HTTP {resp.status} ({reply.error_code}): {self.redact(reply.message)}"
                    raise RetryableFailure(text, reply.effective_status, wait)
                return reply
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise RetryableFailure(f"cannot connect: {self._describe(exc)}") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            if request.policy.retry_after_send:
                raise RetryableFailure(f"no reply: {self._describe(exc)}") from None
            raise OutcomeUnknown(
                f"{request.what}: no reply ({self._describe(exc)}); RunComfy may have queued it"
            ) from None

    def _describe(self, exc: BaseException) -> str:
        return self.redact(str(exc) or type(exc).__name__)


def _reply(status: int, raw: bytes) -> Reply:
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        text = raw.decode("utf-8", "replace").strip()[:200]
        return Reply(status, None, None, text or "not JSON")
    code = data.get("error_code") if isinstance(data, dict) else None
    if isinstance(code, bool) or not isinstance(code, int | str) or code in ("", None):
        code = None
    if code is None and 200 <= status < 300:
        return Reply(status, data)
    return Reply(status, data, _int(code), _message(data))


def _int(code: Any) -> int | None:
    try:
        return int(code) if code is not None else None
    except (TypeError, ValueError):
        return 0


def _message(data: Any) -> str:
    """`error_message` (or `message`/`error`), with the `detail` items that say where."""
    if not isinstance(data, dict):
        return "no details"
    text = next(
        (v for k in ("error_message", "message", "error") if isinstance(v := data.get(k), str)),
        "",
    )
    detail = data.get("detail")
    if isinstance(detail, list) and detail:
        items = "; ".join(_detail(item) for item in detail)
        text = f"{text}: {items}" if text else items
    elif isinstance(detail, str) and detail:
        text = f"{text}: {detail}" if text else detail
    return text[:500] or "no details"


def _detail(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = item.get("loc")
    where = ".".join(str(part) for part in loc) if isinstance(loc, list) else ""
    message = str(item.get("msg", "invalid"))
    return f"{where}: {message}" if where else message
