"""`ComfyApiClient`: the Comfy API v2 over aiohttp — jobs, assets, outputs, the event stream.

One contract, three surfaces: Comfy Cloud (`https://cloud.comfy.org`), Comfy API deployments
(`https://{deployment}.run.comfy.app`) and a self-hosted ComfyUI behind comfy-api-proxy, whose
source states the contract's endpoints and error codes
(https://github.com/Comfy-Org/comfy-api-proxy); Bearer auth.

Creating a job is safe to repeat: it carries an `Idempotency-Key`, and a key is single-use, so a
repeat is refused with `idempotency_key_reuse` instead of making a second job. After an unclear
answer (no reply, or a 5xx that comfy-api-proxy also gives when ComfyUI took the prompt but the
answer was lost) the job is looked for by its `metadata` label before anything else; when it
cannot be found the outcome stays unknown (`OutcomeUnknown`), so the run is not sent elsewhere.

Why not Comfy's own SDK (comfy-sdk 0.5.0, https://docs.comfy.org/development/api-development/
sdks): it takes its base URL only from the process-wide `COMFY_BASE_URL` variable (one server
per process, where a bot may talk to Comfy Cloud and its own ComfyUI at once); its submit hides
a 60 s retry loop on 429 that cannot be configured (a chat command would wait on it, and the
run could not go to another deployment); its `events()` stops at the terminal status, so
outputs sent after it are lost; and it is a beta of some 11 000 lines with an HTTP stack of its
own beside aiohttp. The few calls a bot needs fit in this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from adapters.comfyapi.files import AssetFiles
from adapters.comfyapi.retry import READ, REPEATABLE, SUBMIT
from adapters.comfyapi.transport import Reply, Request, Transport, refusal
from core.errors import BackendError, BackendUnavailable, OutcomeUnknown, RunNotFound
from core.retrying import Sleep

log = logging.getLogger(__name__)

PING_TIMEOUT_S = 5.0
PROBE_JOB = "00000000-0000-4000-8000-000000000000"
"""A job id nobody has: reading it tells whether the server can look jobs up at all."""
LOOKUP_LIMIT = 20
"""Newest jobs searched for a job whose creation went unanswered."""
STREAM_READ_TIMEOUT_S = 60.0
"""The proxy sends a keep-alive comment every 15 s; silence this long means a dead stream."""


class ComfyApiClient:
    """Owns (and closes) its session unless one is passed in."""

    def __init__(
        self,
        base_url: str,
        api_key: str = "",
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
        """`submit_retries`/`submit_wait_max_s` bound what creating a job may wait for (a
        chat command waits on it): a longer Retry-After sends the run to another deployment.
        `sleep` is what backoff waits with (tests pass a recorder)."""
        self.base = str(URL(base_url.rstrip("/")))
        self.origin = URL(self.base).origin()
        self._session = session
        self._owns_session = session is None
        self._timeout_s = timeout_s
        self._submit_retries = submit_retries
        self._submit_wait_max_s = submit_wait_max_s
        fetch_timeout = aiohttp.ClientTimeout(
            total=fetch_timeout_s, sock_connect=timeout_s, sock_read=timeout_s
        )
        self.http = Transport(
            self._session_ready,
            api_key,
            aiohttp.ClientTimeout(total=timeout_s),
            retries,
            backoff_base_s,
            backoff_max_s,
            sleep,
        )
        self._files = AssetFiles(
            self.http, f"{self.base}/api/v2/assets", self.origin, fetch_timeout
        )

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # -- jobs ------------------------------------------------------------------------------

    async def submit(self, workflow: dict[str, Any], key: str, label: str) -> dict[str, Any]:
        """`POST /api/v2/jobs` with `Idempotency-Key: key` and `metadata: label`; the Job.

        Failed connections, 429 (when its Retry-After is short) and gateway errors are retried;
        a request that got no answer is repeated once with the same key. When the answer
        stays unclear the job is looked for by its label."""
        request = self._request(
            "POST",
            "/api/v2/jobs",
            "submit job",
            policy=SUBMIT,
            json_body={"workflow": workflow, "metadata": label},
            headers={"Idempotency-Key": key},
            max_wait_s=self._submit_wait_max_s,
        )
        try:
            reply = await self.http.call(request, retries=self._submit_retries)
        except OutcomeUnknown:
            reply = await self._repeat(request)
        if reply.ok:
            job = self._job_or_none(reply)
            return job if job is not None else await self._found_or_unknown(label, "no job")
        if reply.status == 422 and reply.code == "idempotency_key_reuse":
            return await self._found_or_unknown(label, "its key was used already")
        if reply.status == 503:
            return await self._after_unavailable(label, reply)
        if _rejected_blindly(reply):
            raise BackendUnavailable(
                "submit job: ComfyUI refused it without saying why (HTTP 422)", 422
            )
        if reply.status == 0 or reply.status >= 500:
            return await self._found_or_unknown(label, f"HTTP {reply.status or '-'}")
        raise refusal(request, reply)

    async def _repeat(self, request: Request) -> Reply:
        """The same request once more, after no answer: the key makes a second job impossible."""
        try:
            return await self.http.call(request, retries=0)
        except BackendUnavailable:  # OutcomeUnknown included: still no answer
            return Reply(0, b"", "no_reply")

    async def _after_unavailable(self, label: str, reply: Reply) -> dict[str, Any]:
        """A 503: when the server cannot reach its ComfyUI right now (comfy-api-proxy's
        `upstream_unreachable`), nothing was queued; when it can again, look for the job."""
        if await self._probe() == 503:
            raise BackendUnavailable(
                f"submit job: the server cannot run jobs now ({reply.code}: {reply.message})",
                503,
            )
        return await self._found_or_unknown(label, f"HTTP 503 {reply.code}")

    async def _probe(self) -> int:
        """Ask for a job that does not exist: 404 when the server (and the ComfyUI behind it)
        answers, 503 when it cannot reach its ComfyUI, 401 for a refused key; 0 for no answer."""
        request = self._request("GET", f"/api/v2/jobs/{PROBE_JOB}", "probe")
        try:
            return (await self.http.call(request, retries=0)).status
        except BackendUnavailable:
            return 0

    async def _found_or_unknown(self, label: str, why: str) -> dict[str, Any]:
        found = await self.find_job(label)
        if found is not None:
            log.info("comfyapi: submit went unanswered (%s); found job %s", why, found["id"])
            return found
        raise OutcomeUnknown(f"submit job: no clear answer ({why}) and no job labelled so")

    async def find_job(self, label: str) -> dict[str, Any] | None:
        """The newest job whose `metadata` is `label`, among the last few."""
        request = self._request(
            "GET", "/api/v2/jobs", "list jobs", params={"limit": str(LOOKUP_LIMIT)}
        )
        try:
            data = await self._json(request)
        except BackendError as error:
            log.warning("comfyapi: cannot list jobs to find %s: %s", label, error)
            return None
        jobs = data.get("jobs") if isinstance(data, dict) else None
        for job in jobs if isinstance(jobs, list) else ():
            if isinstance(job, dict) and job.get("metadata") == label and _id(job):
                return job
        return None

    async def get_job(self, job_id: str) -> dict[str, Any]:
        request = self._request("GET", f"/api/v2/jobs/{_segment(job_id)}", "get job")
        reply = await self.http.call(request)
        if reply.status == 404:
            raise RunNotFound(f"get job: job {job_id} not found", 404)
        if not reply.ok:
            raise refusal(request, reply)
        return self._job(request, reply)

    async def cancel(self, job_id: str) -> dict[str, Any]:
        """`POST /api/v2/jobs/{id}/cancel` (idempotent): the job as it is after the cancel."""
        path = f"/api/v2/jobs/{_segment(job_id)}/cancel"
        request = self._request("POST", path, "cancel job", policy=REPEATABLE)
        reply = await self.http.call(request)
        if reply.status == 404:
            raise RunNotFound(f"cancel job: job {job_id} not found", 404)
        if not reply.ok:
            raise refusal(request, reply)
        return self._job(request, reply)

    @contextlib.asynccontextmanager
    async def events(self, job_id: str) -> AsyncIterator[aiohttp.ClientResponse]:
        """The job's open event stream (`GET /api/v2/jobs/{id}/events`), no retries: a
        refused or lost stream is simply not followed (the job is polled instead)."""
        url = URL(f"{self.base}/api/v2/jobs/{_segment(job_id)}/events", encoded=True)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._timeout_s, sock_read=STREAM_READ_TIMEOUT_S
        )
        headers = {**self.http.auth_headers(), "Accept": "text/event-stream"}
        try:
            async with self._session_ready().get(url, headers=headers, timeout=timeout) as resp:
                if resp.status != 200:
                    raise BackendUnavailable(f"event stream: HTTP {resp.status}", resp.status)
                yield resp
        except (TimeoutError, aiohttp.ClientError) as error:
            raise BackendUnavailable(f"event stream: {self.http.redact(str(error))}") from None

    # -- files -----------------------------------------------------------------------------

    async def upload(self, filename: str, mime: str, data: bytes) -> str:
        return await self._files.upload(filename, mime, data)

    async def download(self, url: str, target: Path, max_bytes: int) -> int:
        return await self._files.download(url, target, max_bytes)

    # -- health ----------------------------------------------------------------------------

    async def ping(self) -> bool:
        """`GET /api/v2/health`: one quick unauthenticated GET, no retries."""
        timeout = aiohttp.ClientTimeout(total=min(self._timeout_s, PING_TIMEOUT_S))
        try:
            async with self._session_ready().get(
                f"{self.base}/api/v2/health", timeout=timeout
            ) as resp:
                return resp.status == 200
        except (TimeoutError, aiohttp.ClientError):
            return False

    async def check_access(self) -> None:
        """One authenticated read, no retries: raises when the key is refused or the server
        cannot reach its ComfyUI (comfy-api-proxy's health says healthy even then)."""
        status = await self._probe()
        if status == 404:
            return
        if status in (401, 403):
            raise BackendUnavailable(f"{self.base}: the API key is refused (HTTP {status})")
        raise BackendUnavailable(f"{self.base}: cannot run jobs now (HTTP {status or '-'})")

    # -- plumbing --------------------------------------------------------------------------

    def _session_ready(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise BackendError("comfyapi: the session passed in is closed")
            self._session = aiohttp.ClientSession()
        return self._session

    def _request(
        self, method: str, path: str, what: str, *, policy: Any = READ, **extra: Any
    ) -> Request:
        url = URL(f"{self.base}{path}", encoded=True)
        return Request(method, url, what, policy, **extra)

    async def _json(self, request: Request) -> Any:
        reply = await self.http.call(request)
        if not reply.ok:
            raise refusal(request, reply)
        return self.http.decode(request, reply)

    def _job(self, request: Request, reply: Reply) -> dict[str, Any]:
        job = self._job_or_none(reply)
        if job is None:
            raise BackendUnavailable(f"{request.what}: reply is not a job", reply.status)
        return job

    @staticmethod
    def _job_or_none(reply: Reply) -> dict[str, Any] | None:
        try:
            job = json.loads(reply.body)
        except ValueError:
            return None
        return job if isinstance(job, dict) and _id(job) else None


def _rejected_blindly(reply: Reply) -> bool:
    """comfy-api-proxy turns any non-200 from ComfyUI's /prompt (a 500 as well) into 422
    `invalid_workflow` "Workflow rejected." with no node errors; nothing was queued, and the
    trouble may be the server's, so another deployment may take the run. A workflow ComfyUI
    found wrong comes with its node errors or its own message instead."""
    if reply.status != 422 or reply.code != "invalid_workflow":
        return False
    try:
        details = json.loads(reply.body)["error"].get("details") or {}
    except (ValueError, KeyError, TypeError, AttributeError):
        return False
    blind = isinstance(details, dict) and not details.get("node_errors")
    return blind and reply.message == "Workflow rejected."


def _id(job: dict[str, Any]) -> str | None:
    value = job.get("id")
    return value if isinstance(value, str) and value else None


def _segment(value: str) -> str:
    """A path segment, escaped so an id can never change the route."""
    return quote(value, safe="")
