"""HTTP exchanges with a Comfy API v2 server under the retry policy; library errors become core
errors.

One `Transport.call` is up to `1 + retries` attempts, each with an aiohttp timeout. Replies the
policy does not retry are handed back with the v2 error envelope `{"error": {code, message,
details}}` already read (https://github.com/Comfy-Org/comfy-api-proxy), since what
they mean depends on the endpoint. A wait longer than the request's `max_wait_s` is not waited
for: the call fails at once, so a run can go to another deployment instead.

The API key goes only into the Authorization header of requests marked `auth`, and is scrubbed
from every message built here.
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
    code: str = ""
    """The error envelope's `code` (`not_found`, `queue_full` …); empty on success."""
    message: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Request:
    method: str
    url: URL
    what: str
    """What the call does, for messages: `submit job`, `get job` …"""
    policy: RetryPolicy
    auth: bool = True
    json_body: Any = None
    form: FormFactory | None = None
    """Built anew for every attempt: a FormData cannot be sent twice."""
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] | None = None
    timeout: aiohttp.ClientTimeout | None = None
    reader: Reader | None = None
    """Reads a 2xx body (e.g. with a size cap); the whole body by default."""
    max_wait_s: float | None = None
    """Longest server-asked wait worth waiting for; longer ones fail the call at once."""


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

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    async def call(self, request: Request, retries: int | None = None) -> Reply:
        """Send with retries; `BackendUnavailable` once they are spent (or a wait is too long)."""
        retrying = attempts(
            (self._retries if retries is None else max(0, retries)) + 1,
            self._wait,
            self._sleep,
            log=log,
            what=f"comfyapi {request.what}",
            max_wait_s=request.max_wait_s,
        )
        try:
            return await retrying(self._attempt, request)
        except RetryableFailure as failure:
            if failure.status is not None:  # the server's answer, e.g. 429 queue_full
                return Reply(failure.status, b"", failure.code or "", failure.message)
            raise BackendUnavailable(f"{request.what}: {failure.message}") from None

    def decode(self, request: Request, reply: Reply) -> Any:
        try:
            return json.loads(reply.body)
        except ValueError:
            raise BackendUnavailable(f"{request.what}: reply is not JSON", reply.status) from None

    async def _attempt(self, request: Request) -> Reply:
        headers = {**(self.auth_headers() if request.auth else {}), **(request.headers or {})}
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
                    return Reply(resp.status, await (request.reader or _read_all)(resp))
                body = await resp.content.read(ERROR_BODY_MAX)
                wait = None
                if resp.status in THROTTLED:
                    wait = parse_retry_after(resp.headers.get("Retry-After"))
                code, message = error_of(body)
                message = self.redact(message)
                if request.policy.retries_status(resp.status):
                    text = f"HTTP {resp.status} {code}: {message}"
                    raise RetryableFailure(text, resp.status, wait, code)
                return Reply(resp.status, body, code, message, wait)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # The request never left: repeating it is safe for every kind of call.
            raise RetryableFailure(f"cannot connect: {self._describe(exc)}") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            if request.policy.retry_after_send:
                raise RetryableFailure(f"no reply: {self._describe(exc)}") from None
            raise OutcomeUnknown(
                f"{request.what}: no reply ({self._describe(exc)}); "
                "the server may have acted on it"
            ) from None

    def _describe(self, exc: BaseException) -> str:
        return self.redact(str(exc) or type(exc).__name__)


async def _read_all(resp: aiohttp.ClientResponse) -> bytes:
    return await resp.read()


def refusal(request: Request, reply: Reply) -> BackendError:
    """The error for an answer that is not a success, in core's terms."""
    detail = f"{request.what}: HTTP {reply.status} {reply.code}: {reply.message}".rstrip()
    if reply.status == 402 or reply.code == "insufficient_credits":
        return BackendUnavailable(detail, reply.status, notice="submit.no_credits")
    if reply.status == 429:
        return BackendUnavailable(detail, reply.status, notice="submit.busy")
    if reply.status >= 500 or reply.status in (401, 403):
        return BackendUnavailable(detail, reply.status)
    return BackendError(detail, reply.status, retryable=False)


def error_of(body: bytes) -> tuple[str, str]:
    """(code, message) of a v2 error envelope; the text itself when it is not one."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return "", text[:200] or "no details"
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
        return (
            code if isinstance(code, str) else "",
            message[:500] if isinstance(message, str) else "no details",
        )
    if isinstance(error, str):
        return "", error[:500]
    return "", text[:200]
