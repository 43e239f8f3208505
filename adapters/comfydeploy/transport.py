"""HTTP exchanges with ComfyDeploy under the retry policy; library errors become core errors.

One `Transport.call` = up to `1 + retries` attempts. Each attempt has an aiohttp timeout.
What is retried depends on the call's `RetryPolicy` (see retry.py). When the attempts are spent,
`BackendUnavailable` is raised. Replies the policy does not retry (2xx, 4xx, a 500 for a call
that is not safe to repeat) are handed back for the caller to map, since their meaning differs
per endpoint (a 500 on cancel means "not found").

The API key goes only into the Authorization header of requests the caller marks `auth`, and is
scrubbed from every message this module builds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from core.errors import BackendError, BackendUnavailable, OutcomeUnknown
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

ERROR_BODY_MAX = 64 * 1024
Reader = Callable[[aiohttp.ClientResponse], Awaitable[bytes]]
FormFactory = Callable[[], aiohttp.FormData]


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Request:
    method: str
    url: URL
    what: str
    """What the call does, for messages: `queue run`, `get run` …"""
    policy: RetryPolicy
    auth: bool = True
    json_body: Any = None
    form: FormFactory | None = None
    """Built anew for every attempt: a FormData cannot be sent twice."""
    params: Mapping[str, str] | None = None
    timeout: aiohttp.ClientTimeout | None = None
    reader: Reader | None = None
    """Reads a 2xx body (e.g. with a size cap); the whole body by default."""


class Transport:
    def __init__(
        self,
        session: Callable[[], aiohttp.ClientSession],
        api_key: str,
        timeout: aiohttp.ClientTimeout,
        retries: int,
        backoff_base_s: float,
        backoff_max_s: float,
        sleep: Sleep,
    ) -> None:
        self._session = session
        self._api_key = api_key
        self._timeout = timeout
        self._retries = max(0, retries)
        self._wait = WaitRetryAfter(backoff_base_s, backoff_max_s)
        self._sleep = sleep

    def redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    async def call(self, request: Request) -> Reply:
        """Send with retries; raise `BackendUnavailable` once the retries are spent."""
        retrying = attempts(
            self._retries + 1, self._wait, self._sleep, log=log, what=f"comfydeploy {request.what}"
        )
        try:
            return await retrying(self._attempt, request)
        except RetryableFailure as exc:
            raise BackendUnavailable(f"{request.what}: {exc.message}", exc.status) from None

    def failure(self, request: Request, reply: Reply) -> BackendError:
        """The error for a reply that was not retried: 5xx -> unavailable, else non-retryable."""
        message = f"{request.what}: {self.redact(describe_error(reply.body))}"
        if reply.status >= 500:
            return BackendUnavailable(f"{message} (HTTP {reply.status})", reply.status)
        return BackendError(f"{message} (HTTP {reply.status})", reply.status, retryable=False)

    def decode(self, request: Request, reply: Reply) -> Any:
        try:
            return json.loads(reply.body)
        except ValueError:
            raise BackendError(
                f"{request.what}: reply is not JSON", reply.status, retryable=False
            ) from None

    async def _attempt(self, request: Request) -> Reply:
        headers = {"Authorization": f"Bearer {self._api_key}"} if request.auth else {}
        try:
            async with self._session().request(
                request.method,
                request.url,
                headers=headers,
                json=request.json_body,
                data=request.form() if request.form else None,
                params=request.params,
                timeout=request.timeout or self._timeout,
            ) as resp:
                if 200 <= resp.status < 300:
                    reader = request.reader or _read_all
                    return Reply(resp.status, await reader(resp))
                body = await resp.content.read(ERROR_BODY_MAX)
                if request.policy.retries_status(resp.status):
                    wait = None
                    if resp.status in THROTTLED:
                        wait = parse_retry_after(resp.headers.get("Retry-After"))
                    detail = self.redact(describe_error(body))
                    raise RetryableFailure(f"HTTP {resp.status}: {detail}", resp.status, wait)
                return Reply(resp.status, body)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # The request never left: repeating it is safe for every kind of call.
            raise RetryableFailure(f"cannot connect: {self._describe(exc)}") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            if request.policy.retry_after_send:
                raise RetryableFailure(f"no reply: {self._describe(exc)}") from None
            raise OutcomeUnknown(
                f"{request.what}: no reply ({self._describe(exc)}); "
                "the server may have processed the request"
            ) from None

    def _describe(self, exc: BaseException) -> str:
        return self.redact(str(exc) or type(exc).__name__)


async def _read_all(resp: aiohttp.ClientResponse) -> bytes:
    return await resp.read()


def describe_error(body: bytes) -> str:
    """The message of a FastAPI error body (`detail` string or 422 list), or the text itself."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200] or "no details"
    if isinstance(data, dict):
        detail = data.get("detail", data.get("error", data.get("message")))
        if isinstance(detail, str):
            return detail[:500]
        if isinstance(detail, list):
            return "; ".join(_validation_item(item) for item in detail)[:500]
    return text[:200]


def _validation_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = item.get("loc")
    where = ".".join(str(part) for part in loc) if isinstance(loc, list) else ""
    msg = str(item.get("msg", "invalid"))
    return f"{where}: {msg}" if where else msg
