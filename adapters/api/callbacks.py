"""A run's final result POSTed to the callback URL its request named, signed with the key's
signing secret, Stripe-style (https://docs.stripe.com/webhooks#verify-manually):
`X-Comfybot-Timestamp: <unix seconds>` and `X-Comfybot-Signature: sha256=<hex HMAC-SHA256 of
"<timestamp>.<body>">`. `X-Comfybot-Event` names the event (`run.<id>.result`) for receivers
that drop repeats.

One send tries up to `tries` times within its timeout each: again after a timeout, a dropped
connection, 408, 429 or a 5xx, waiting what a 429/503's Retry-After says (seconds or an HTTP
date, https://www.rfc-editor.org/rfc/rfc9110#field.retry-after) or backing off. A send that
still fails raises `SendFailed`, and delivery tries again later with its own backoff; a receiver
that refuses outright (another 4xx) or a private address ends the delivery.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time

import aiohttp
import yarl
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from adapters.api.address_guard import PrivateAddress, PublicResolver, check_host
from core.errors import SendFailed
from core.retrying import RetryableFailure, Sleep, WaitRetryAfter, parse_retry_after

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Comfybot-Timestamp"
SIGNATURE_HEADER = "X-Comfybot-Signature"
EVENT_HEADER = "X-Comfybot-Event"
RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_WAIT_S = 30.0
"""A Retry-After longer than this is left to delivery's own, longer backoff."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class CallbackSender:
    def __init__(
        self,
        *,
        allow_private: bool,
        timeout_s: float,
        tries: int = 3,
        backoff_s: float = 1.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._allow_private = allow_private
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._tries = tries
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self._resolver: PublicResolver | None = None

    def _client(self) -> tuple[aiohttp.ClientSession, PublicResolver]:
        if self._session is None or self._resolver is None or self._session.closed:
            self._resolver = PublicResolver(self._allow_private)
            connector = aiohttp.TCPConnector(resolver=self._resolver, use_dns_cache=False)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session, self._resolver

    async def send(self, url: str, body: bytes, secret: str, event: str) -> None:
        """POST `body` to `url`; raises SendFailed when it could not be delivered."""
        session, resolver = self._client()
        target = yarl.URL(url)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._tries),
            wait=WaitRetryAfter(self._backoff_s, MAX_WAIT_S),
            retry=retry_if_exception_type(RetryableFailure),
            reraise=True,
            sleep=self._sleep,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if not self._allow_private:
                        await self._check(target, resolver)
                    await self._post(session, target, body, secret, event)
        except RetryableFailure as failure:
            raise SendFailed(
                f"callback failed: {failure}", retry_after=failure.retry_after
            ) from None
        except PrivateAddress as refused:
            log.warning("callback to %s refused: a non-public address", refused.host)
            raise SendFailed("callback to a non-public address", permanent=True) from None

    async def _check(self, target: yarl.URL, resolver: PublicResolver) -> None:
        try:
            await check_host(target.host or "", target.port or 0, resolver)
        except PrivateAddress:
            raise
        except (OSError, TimeoutError) as error:
            reason = f"{target.host} does not resolve ({type(error).__name__})"
            raise RetryableFailure(reason) from None

    async def _post(
        self, session: aiohttp.ClientSession, url: yarl.URL, body: bytes, secret: str, event: str
    ) -> None:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(secret, timestamp, body),
            EVENT_HEADER: event,
            "User-Agent": "comfybot-callbacks",
        }
        try:
            async with session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            refused = _private_cause(error)
            if refused is not None:
                raise refused from None
            raise RetryableFailure(type(error).__name__) from None
        if 200 <= status < 300:
            return
        if status in RETRIED_STATUSES:
            raise RetryableFailure(f"HTTP {status}", status, retry_after)
        raise SendFailed(f"callback refused: HTTP {status}", permanent=True)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None


def _private_cause(error: BaseException) -> PrivateAddress | None:
    """The resolver's refusal, however aiohttp wrapped it."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None or isinstance(seen, PrivateAddress):
            return seen
        seen = seen.__cause__ or getattr(seen, "os_error", None)
    return None
