"""`ComfyDeployClient`: the v2 ComfyDeploy API as a `core.ports.WorkflowBackend`.

Endpoints and wire formats as ComfyDeploy's server defines them (https://github.com/comfy-deploy/api,
https://www.comfydeploy.com/docs/v2/api-reference). The base URL includes `/api`,
e.g. `https://api.comfydeploy.com/api`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from adapters.comfydeploy.catalog import SOURCE, build_catalog, machine_gpus, merge_deployments
from adapters.comfydeploy.events import MalformedEvent, parse_run
from adapters.comfydeploy.retry import NOT_IDEMPOTENT, REPEATABLE, SAFE
from adapters.comfydeploy.transport import Reply, Request, Transport
from core.errors import BackendError, FileTooLarge, RunNotFound
from core.models import RunEvent
from core.retrying import RetryPolicy, Sleep
from core.workflow import Deployment, Workflow

log = logging.getLogger(__name__)

PING_TIMEOUT_S = 5.0
CHUNK = 64 * 1024


class ComfyDeployClient:
    """ComfyDeploy API client. Owns (and closes) its session unless one is passed in."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 30,
        retries: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30,
        *,
        fetch_timeout_s: float = 300,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """`retries` counts attempts after the first. `sleep` is what the backoff waits with
        (tests pass a recorder). `fetch_timeout_s` bounds a whole output download; each read
        still times out after `timeout_s`."""
        self._base = str(URL(base_url.rstrip("/")))
        self._origin = URL(self._base).origin()
        self._session = session
        self._owns_session = session is None
        self._timeout_s = timeout_s
        self._fetch_timeout = aiohttp.ClientTimeout(
            total=fetch_timeout_s, sock_connect=timeout_s, sock_read=timeout_s
        )
        self._http = Transport(
            self._session_ready,
            api_key,
            aiohttp.ClientTimeout(total=timeout_s),
            retries,
            backoff_base_s,
            backoff_max_s,
            sleep,
        )

    @property
    def origin(self) -> str:
        """`scheme://host:port` of the API: the only place the key is ever sent."""
        return str(self._origin)

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ComfyDeployClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- catalog ---------------------------------------------------------------------------

    async def list_workflows(
        self, backend: str = SOURCE
    ) -> tuple[list[Workflow], list[Deployment]]:
        """Both deployment lists (classic and `is_fluid=true`) and machine GPUs, as the
        workflows of the backend called `backend`; see
        https://github.com/comfy-deploy/api/blob/main/src/api/routes/deployments.py.

        A failure to list machines is logged and tolerated: it only loses the GPU fallback.
        """
        results = await asyncio.gather(
            self._get_list("/deployments", "list deployments"),
            self._get_list("/deployments", "list fluid deployments", {"is_fluid": "true"}),
            self._get_list("/machines", "list machines"),
            return_exceptions=True,
        )
        regular, fluid, machines = results
        if isinstance(regular, BaseException):
            raise regular
        if isinstance(fluid, BaseException):
            raise fluid
        gpus: dict[str, str] = {}
        if isinstance(machines, BackendError):
            log.warning("comfydeploy: cannot list machines, using deployment GPUs: %s", machines)
        elif isinstance(machines, BaseException):
            raise machines
        else:
            gpus = machine_gpus(machines)
        return build_catalog(merge_deployments(regular, fluid), gpus, backend)

    async def gpu_prices(self) -> dict[str, float]:
        """USD per GPU-second (public route, sent without the key)."""
        request = self._request("GET", "/platform/gpu-pricing", "gpu pricing", auth=False)
        data = await self._json(request)
        if not isinstance(data, dict):
            raise BackendError("gpu pricing: not a JSON object", 200)
        return {
            str(gpu): float(price)
            for gpu, price in data.items()
            if isinstance(price, int | float) and not isinstance(price, bool)
        }

    # -- runs ------------------------------------------------------------------------------

    async def submit(
        self, deployment_id: str, inputs: Mapping[str, Any], webhook_url: str | None
    ) -> str:
        """Queue a run; returns its run id.

        Queueing is not idempotent, so it is retried only when the request surely never
        reached the API: a failed connection, or a 429/502/503/504 from whatever fronts it.
        A timeout or dropped connection after sending raises `BackendUnavailable` without a
        retry, since the run may exist; so does a 500 (the run may exist as `failed`).
        """
        body: dict[str, Any] = {"deployment_id": deployment_id, "inputs": dict(inputs)}
        if webhook_url:
            body["webhook"] = webhook_url
            body["webhook_intermediate_status"] = True
        request = self._request(
            "POST", "/run/deployment/queue", "queue run", policy=NOT_IDEMPOTENT, json_body=body
        )
        return _text_field(await self._json(request), "run_id", "queue run")

    async def find_run(self, deployment_id: str, webhook_run: str) -> str | None:
        """The id of a recent run of the deployment whose webhook URL names our run
        `webhook_run` (`?run=…`): how a run whose queue reply was lost is found again.
        `GET /deployment/{id}/runs` (see
        https://github.com/comfy-deploy/api/blob/main/src/api/routes/deployments.py)."""
        path = f"/deployment/{_segment(deployment_id)}/runs"
        runs = await self._get_list(path, "list deployment runs", {"limit": "60"})
        for item in runs:
            hook = item.get("webhook") if isinstance(item, dict) else None
            if isinstance(hook, str) and URL(hook).query.getall("run", []) == [webhook_run]:
                found = item.get("id")
                if isinstance(found, str) and found:
                    return found
        return None

    async def get_run(self, backend_run_id: str) -> RunEvent:
        request = self._request(
            "GET", f"/run/{_segment(backend_run_id)}", "get run", params={"queue_position": "true"}
        )
        reply = await self._http.call(request)
        if reply.status == 404:
            raise RunNotFound(f"get run: run {backend_run_id} not found", 404)
        try:
            return parse_run(self._decoded(request, reply))
        except MalformedEvent as exc:
            raise BackendError(f"get run: {exc}", reply.status) from None

    async def cancel(self, backend_run_id: str) -> None:
        """ComfyDeploy answers an unknown (or uncancellable) run with 500 "... not found"."""
        path = f"/run/{_segment(backend_run_id)}/cancel"
        request = self._request("POST", path, "cancel run", policy=REPEATABLE)
        reply = await self._http.call(request)
        if reply.ok:
            return
        error = self._http.failure(request, reply)
        if reply.status == 404 or (reply.status == 500 and "not found" in str(error).lower()):
            raise RunNotFound(str(error), reply.status)
        raise error

    # -- files -----------------------------------------------------------------------------

    async def upload(self, filename: str, mime: str, data: bytes) -> str:
        """`POST /file/upload` (multipart `file`) -> `file_url`. Repeating an upload only
        stores a second copy, so it is retried like cancel."""

        def form() -> aiohttp.FormData:
            payload = aiohttp.FormData()
            payload.add_field("file", data, filename=filename, content_type=mime)
            return payload

        request = self._request(
            "POST", "/file/upload", "upload file", policy=REPEATABLE, form=form
        )
        return _text_field(await self._json(request), "file_url", "upload file")

    async def download(self, url: str, target: Path, max_bytes: int) -> int:
        """Stream an output to `target` (nothing is held in memory); returns its size. Only
        absolute URLs; the key is sent only to the API's own origin, never to storage hosts
        (a presigned S3 URL would also reject it)."""
        source = URL(url)
        if not source.is_absolute() or source.scheme not in ("https", "http"):
            raise BackendError(f"fetch output: not an absolute URL: {url[:80]!r}")
        own = source.origin() == self._origin
        partial = target.with_name(target.name + ".part")

        async def write_capped(resp: aiohttp.ClientResponse) -> bytes:
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
            return b""

        request = Request(
            "GET",
            source,
            f"fetch output from {source.host}",
            SAFE,
            auth=own,
            timeout=self._fetch_timeout,
            reader=write_capped,
        )
        try:
            reply = await self._http.call(request)
            if not reply.ok:
                raise self._http.failure(request, reply)
            await asyncio.to_thread(partial.replace, target)
        finally:
            await asyncio.to_thread(partial.unlink, missing_ok=True)
        return (await asyncio.to_thread(target.stat)).st_size

    async def ping(self) -> bool:
        """One quick unauthenticated GET, no retries."""
        timeout = aiohttp.ClientTimeout(total=min(self._timeout_s, PING_TIMEOUT_S))
        try:
            async with self._session_ready().get(
                f"{self._base}/platform/gpu-pricing", timeout=timeout
            ) as resp:
                return resp.status == 200
        except (TimeoutError, aiohttp.ClientError):
            return False

    # -- plumbing --------------------------------------------------------------------------

    def _session_ready(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise BackendError("comfydeploy: the session passed in is closed")
            self._session = aiohttp.ClientSession()
        return self._session

    def _request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        policy: RetryPolicy = SAFE,
        auth: bool = True,
        **extra: Any,
    ) -> Request:
        url = URL(f"{self._base}{path}", encoded=True)
        return Request(method, url, what, policy, auth=auth, **extra)

    async def _json(self, request: Request) -> Any:
        return self._decoded(request, await self._http.call(request))

    def _decoded(self, request: Request, reply: Reply) -> Any:
        if not reply.ok:
            raise self._http.failure(request, reply)
        return self._http.decode(request, reply)

    async def _get_list(
        self, path: str, what: str, params: Mapping[str, str] | None = None
    ) -> list[Any]:
        data = await self._json(self._request("GET", path, what, params=params))
        if not isinstance(data, list):
            raise BackendError(f"{what}: not a JSON list", 200)
        return data


def _text_field(reply: Any, key: str, what: str) -> str:
    """A non-empty string field of a 200 reply, or a BackendError naming what is missing."""
    value = reply.get(key) if isinstance(reply, dict) else None
    if not isinstance(value, str) or not value:
        raise BackendError(f"{what}: reply has no {key}", 200)
    return value


def _segment(value: str) -> str:
    """A path segment, escaped so an id can never change the route."""
    return quote(value, safe="")


def _open_for_writing(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("wb")
