"""`RunComfyClient`: RunComfy's Serverless API (deployments) over aiohttp.

Queue endpoints under `/prod/v1/deployments/{deployment_id}` (https://docs.runcomfy.com/
serverless/async-queue-endpoints): `POST inference`, `GET requests/{id}/status|result`,
`POST requests/{id}/cancel`; deployments `GET /prod/v2/deployments?ids=…&includes=payload`
(https://docs.runcomfy.com/mcp/tool-reference). Bearer token. Webhooks are asked for
with `webhook=<url>&webhook_intermediate_status=true` (https://docs.runcomfy.com/serverless/webhooks).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from adapters.runcomfy.retry import READ, REPEATABLE, SUBMIT
from adapters.runcomfy.transport import Reply, Request, Transport
from core.errors import BackendError, BackendUnavailable, FileTooLarge, RunNotFound
from core.retrying import RetryPolicy, Sleep

log = logging.getLogger(__name__)

PING_TIMEOUT_S = 5.0
CHUNK = 64 * 1024
INSUFFICIENT_FUNDS = 10001
DEPLOYMENT_OFF = frozenset({10002, 10003})
"""DisabledDeployment, DeletedDeployment."""
NOT_FOUND = 404001


class RunComfyClient:
    """Owns (and closes) its session unless one is passed in."""

    def __init__(
        self,
        base_url: str,
        token: str,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 30,
        retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30,
        *,
        fetch_timeout_s: float = 300,
        submit_retries: int = 2,
        submit_wait_max_s: float = 5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """`submit_retries`/`submit_wait_max_s` bound what queueing may wait for (a chat
        command waits on it): a longer Retry-After sends the run to another deployment."""
        self.base = str(URL(base_url.rstrip("/")))
        self.origin = str(URL(self.base).origin())
        self._session = session
        self._owns_session = session is None
        self._timeout_s = timeout_s
        self._submit_retries = submit_retries
        self._submit_wait_max_s = submit_wait_max_s
        self._fetch_timeout = aiohttp.ClientTimeout(
            total=fetch_timeout_s, sock_connect=timeout_s, sock_read=timeout_s
        )
        self.http = Transport(
            self._session_ready,
            token,
            aiohttp.ClientTimeout(total=timeout_s),
            retries,
            backoff_base_s,
            backoff_max_s,
            sleep,
        )

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # -- deployments -----------------------------------------------------------------------

    async def deployments(self, ids: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Deployments with their payload (saved graph, exposed overrides): the given ones, or
        every one of the account."""
        params = [("includes", "payload")]
        if ids:
            params.append(("ids", ",".join(ids)))
        url = URL(f"{self.base}/prod/v2/deployments", encoded=True).with_query(params)
        data = await self._data(Request("GET", url, "list deployments", READ))
        if not isinstance(data, list):
            raise BackendUnavailable("list deployments: not a JSON list", 200)
        return [item for item in data if isinstance(item, dict)]

    # -- requests --------------------------------------------------------------------------

    async def submit(
        self, deployment_id: str, overrides: Mapping[str, Any], webhook_url: str | None
    ) -> str:
        """Queue an inference; its request id."""
        params = {}
        if webhook_url:
            params = {"webhook": webhook_url, "webhook_intermediate_status": "true"}
        request = self._request(
            "POST",
            f"/prod/v1/deployments/{_segment(deployment_id)}/inference",
            "queue inference",
            SUBMIT,
            json_body={"overrides": dict(overrides)},
            params=params,
            max_wait_s=self._submit_wait_max_s,
        )
        data = await self._data(request, retries=self._submit_retries)
        request_id = data.get("request_id") if isinstance(data, dict) else None
        if not isinstance(request_id, str) or not request_id:
            raise BackendUnavailable("queue inference: reply has no request_id", 200)
        return request_id

    async def status(self, deployment_id: str, request_id: str) -> dict[str, Any]:
        return await self._report(deployment_id, request_id, "status")

    async def result(self, deployment_id: str, request_id: str) -> dict[str, Any]:
        return await self._report(deployment_id, request_id, "result")

    async def cancel(self, deployment_id: str, request_id: str) -> str:
        """Ask for a cancel; RunComfy's word for it (`cancellation_requested`, …)."""
        path = f"{self._requests(deployment_id, request_id)}/cancel"
        data = await self._data(self._request("POST", path, "cancel request", REPEATABLE))
        word = data.get("status", data.get("outcome")) if isinstance(data, dict) else None
        return word.strip().lower() if isinstance(word, str) else ""

    async def _report(self, deployment_id: str, request_id: str, what: str) -> dict[str, Any]:
        path = f"{self._requests(deployment_id, request_id)}/{what}"
        data = await self._data(self._request("GET", path, f"get {what}", READ))
        if not isinstance(data, dict):
            raise BackendUnavailable(f"get {what}: not a JSON object", 200)
        return data

    # -- files and health ------------------------------------------------------------------

    async def download(self, url: str, target: Path, max_bytes: int) -> int:
        """Stream an output from its (public, signed) URL to `target`; returns its size. No
        token is sent with it."""
        source = URL(url)
        if not source.is_absolute() or source.scheme not in ("http", "https"):
            raise BackendError(f"fetch output: not an absolute http(s) URL: {url[:80]!r}")
        partial = target.with_name(target.name + ".part")
        try:
            async with self._session_ready().get(source, timeout=self._fetch_timeout) as resp:
                if resp.status != 200:
                    raise BackendUnavailable(f"fetch output: HTTP {resp.status}", resp.status)
                if resp.content_length is not None and resp.content_length > max_bytes:
                    raise FileTooLarge(max_bytes)
                size = 0
                out = await asyncio.to_thread(_open_for_writing, partial)
                try:
                    async for chunk in resp.content.iter_chunked(CHUNK):
                        size += len(chunk)
                        if size > max_bytes:
                            raise FileTooLarge(max_bytes)
                        await asyncio.to_thread(out.write, chunk)
                finally:
                    await asyncio.to_thread(out.close)
            await asyncio.to_thread(partial.replace, target)
        except (TimeoutError, aiohttp.ClientError) as error:
            raise BackendUnavailable(f"fetch output: {error or type(error).__name__}") from None
        finally:
            await asyncio.to_thread(partial.unlink, missing_ok=True)
        return size

    async def ping(self) -> bool:
        """One quick authenticated read (no retries): the API answers and takes the token."""
        try:
            await self.check_access()
        except BackendError:
            return False
        return True

    async def check_access(self) -> None:
        url = URL(f"{self.base}/prod/v2/deployments", encoded=True)
        request = Request("GET", url, "list deployments", READ)
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                reply = await self.http.call(request, retries=0)
        except TimeoutError:
            raise BackendUnavailable("list deployments: no answer in time") from None
        if not reply.ok:
            raise self.refusal(request, reply)

    # -- plumbing --------------------------------------------------------------------------

    def refusal(self, request: Request, reply: Reply) -> BackendError:
        code = reply.error_code
        detail = f"{request.what}: HTTP {reply.status} ({code}): {reply.message}"
        detail = self.http.redact(detail)
        if code == INSUFFICIENT_FUNDS:
            return BackendUnavailable(detail, reply.status, notice="submit.no_credits")
        if code in DEPLOYMENT_OFF:
            return BackendUnavailable(detail, reply.status, notice="submit.disabled")
        status = reply.effective_status
        if status == 404 or code == NOT_FOUND:
            return RunNotFound(detail, 404)
        if status == 429:
            return BackendUnavailable(detail, 429, notice="submit.busy")
        if status >= 500 or status in (401, 403):
            return BackendUnavailable(detail, status)
        return BackendError(detail, status, retryable=False)

    def _session_ready(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise BackendError("runcomfy: the session passed in is closed")
            self._session = aiohttp.ClientSession()
        return self._session

    def _request(
        self, method: str, path: str, what: str, policy: RetryPolicy, **extra: Any
    ) -> Request:
        return Request(method, URL(f"{self.base}{path}", encoded=True), what, policy, **extra)

    def _requests(self, deployment_id: str, request_id: str) -> str:
        return f"/prod/v1/deployments/{_segment(deployment_id)}/requests/{_segment(request_id)}"

    async def _data(self, request: Request, retries: int | None = None) -> Any:
        reply = await self.http.call(request, retries)
        if not reply.ok:
            raise self.refusal(request, reply)
        return reply.data


def _open_for_writing(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("wb")


def _segment(value: str) -> str:
    """A path segment, escaped so an id can never change the route."""
    return quote(value, safe="")
