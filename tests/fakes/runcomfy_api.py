"""`FakeRunComfy`: a local RunComfy Serverless API (deployments) for tests, with test controls.

Speaks the wire format of https://docs.runcomfy.com/serverless/async-queue-endpoints and
https://docs.runcomfy.com/serverless/webhooks on `http://127.0.0.1:PORT` (paths `/prod/v1/...`
and `/prod/v2/...` as on `https://api.runcomfy.net`). In `manual` mode nothing moves until a
test calls `advance` / `finish` / `fail`, which return once the webhooks of that step were
delivered or given up, so tests never sleep. In `auto` mode requests advance every
`step_delay` seconds by themselves (cold starts still wait for `instance_ready`).

    async with FakeRunComfy() as rc:
        client_base, token = rc.base_url, rc.api_key
        ...  # the code under test submits to TXT2IMG_DEPLOYMENT_ID
        rid = rc.requests.all()[-1].id
        await rc.advance(rid)          # in_queue -> in_progress
        await rc.finish(rid)           # -> succeeded, outputs served at their `url`
        rc.request(rid).overrides      # exactly what the client sent
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal

import aiohttp
from aiohttp import web

from tests.fakes.runcomfy_catalog import FakeDeployment, default_deployments
from tests.fakes.runcomfy_faults import CallLog, RecordedCall, RouteFaults
from tests.fakes.runcomfy_lifecycle import Outputs, RequestDriver
from tests.fakes.runcomfy_media import FetchRecord, MediaFetcher
from tests.fakes.runcomfy_requests import (
    FAILED,
    IN_QUEUE,
    FakeRequest,
    RequestBook,
    StatusSpelling,
    WebhookShape,
    failure,
)
from tests.fakes.runcomfy_routes import Api, CancelRunning, build_app
from tests.fakes.runcomfy_webhooks import WebhookSender
from tests.fakes.runcomfy_wire import JsonDict

log = logging.getLogger(__name__)

Mode = Literal["manual", "auto"]
DEFAULT_API_KEY = "rc-test-token"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FakeRunComfy:
    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        mode: Mode = "manual",
        step_delay: float = 0.05,
        *,
        deployments: dict[str, FakeDeployment] | None = None,
        webhook_backoff: Sequence[float] = (0.0,),
        webhook_tries: int = 5,
        webhook_timeout: float = 10.0,
        fetch_timeout: float = 10.0,
        status_spelling: StatusSpelling | None = None,
        webhook_shape: WebhookShape | None = None,
        cancel_running: CancelRunning = "deferred",
        clock: Callable[[], datetime] = _utc_now,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.mode: Mode = mode
        self.step_delay = step_delay
        self.host = host
        self.port = port
        self.deployments = deployments if deployments is not None else default_deployments()
        """By id; tests may add, edit (`is_enabled`, `gating_error`, ...) or remove entries."""
        self.requests = RequestBook(clock)
        self.webhooks = WebhookSender(webhook_backoff, webhook_tries, webhook_timeout)
        """Delivery record (`attempts`, `delivered()`); faults `drop`, `duplicate`, `defer`."""
        self.faults = RouteFaults()
        """Route faults: `fail_next`, `error_code_next`, `hold`; request counts in `hits`."""
        self.media = MediaFetcher(fetch_timeout)
        self.outputs = Outputs()
        self.call_log = CallLog()
        self.driver = RequestDriver(
            self.webhooks, self.media, self.outputs, clock, webhook_shape or WebhookShape()
        )
        api = Api(
            self.deployments,
            self.requests,
            self.driver,
            lambda: self.base_url,
            api_key,
            status_spelling or StatusSpelling(),
            cancel_running,
            self._on_submitted,
        )
        self._app = build_app(
            api, [self.call_log.middleware, api.shape_errors, self.faults.middleware]
        )
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._pacers: set[asyncio.Task[None]] = set()

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`: the fake's `https://api.runcomfy.net`."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        self._session = aiohttp.ClientSession()
        self.webhooks.session = self._session
        self.media.session = self._session
        self._runner = web.AppRunner(self._app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = int(self._runner.addresses[0][1])
        self.outputs.root_url = self.base_url
        return self.base_url

    async def stop(self) -> None:
        """Stop pacing, release held requests, end deliveries, close the server and session."""
        for task in list(self._pacers):
            task.cancel()
        await asyncio.gather(*self._pacers, return_exceptions=True)
        self.faults.clear()
        await self.webhooks.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
            self.webhooks.session = None
            self.media.session = None

    async def __aenter__(self) -> FakeRunComfy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- what the client did ------------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        """Every HTTP request the fake answered, faulted and refused ones included."""
        return self.call_log.calls

    def calls_to(self, route: str) -> list[RecordedCall]:
        return self.call_log.to(route)

    @property
    def fetched(self) -> list[FetchRecord]:
        """Every attempt to download a media input URL."""
        return self.media.fetched

    def request(self, request_id: str) -> FakeRequest:
        """A request's live state (KeyError when unknown)."""
        found = self.requests.get(request_id)
        if found is None:
            raise KeyError(request_id)
        return found

    def last_request(self) -> FakeRequest:
        requests = self.requests.all()
        if not requests:
            raise LookupError("no request was submitted")
        return requests[-1]

    def output_bytes(self, request_id: str) -> list[bytes]:
        return self.outputs.of(request_id)

    # -- controls ------------------------------------------------------------------------

    def cold_start(self, deployment_id: str | None = None) -> None:
        """Scale to zero: queued requests stay `in_queue` until `instance_ready`."""
        for dep in [deployment_id] if deployment_id else list(self.deployments):
            self.driver.cold_start(dep)

    def instance_ready(self, deployment_id: str | None = None) -> None:
        """The booting instance is up; `advance` (or auto pacing) may start requests."""
        for dep in [deployment_id] if deployment_id else list(self.deployments):
            self.driver.instance_ready(dep)

    def expire_outputs(self, request_id: str) -> None:
        """Output URLs of the request answer 404 from now on (RunComfy keeps them 7 days)."""
        self.outputs.expired.add(request_id)

    async def advance(self, request_id: str) -> str:
        """Move one request one step; returns its state once that step's webhooks are done.

        A queued request of a cold deployment stays `in_queue`.
        """
        request = self.request(request_id)
        delivery = await self.driver.step(request)
        if delivery is not None:
            await delivery
        return request.phase

    async def finish(self, request_id: str) -> str:
        """Advance a request until it is terminal; returns `succeeded|failed|cancelled`."""
        request = self.request(request_id)
        while not request.terminal:
            if (
                request.phase == IN_QUEUE
                and not self.driver.ready_event(request.deployment_id).is_set()
            ):
                raise RuntimeError(f"{request_id} waits for a cold start: call instance_ready()")
            await self.advance(request_id)
        return request.phase

    async def fail(
        self,
        request_id: str,
        message: str = "Workflow execution failed",
        *,
        errors: list[JsonDict] | None = None,
        debug: str = "Simulated failure",
    ) -> str:
        """End a request `failed` now, with `errors` or one `{errorCode, error, debugInfo}`."""
        request = self.request(request_id)
        delivery = self.driver.end(request, FAILED, errors or [failure(message, debug)])
        if delivery is not None:
            await delivery
        return request.phase

    def fail_when_run(self, request_id: str, errors: list[JsonDict] | None = None) -> None:
        """Let the request queue and start normally, then fail at its run step."""
        self.request(request_id).fail_with = errors or [
            failure("Workflow execution failed", "Simulated failure")
        ]

    async def advance_all(self) -> None:
        for request in self.requests.all():
            if not request.terminal:
                await self.advance(request.id)

    async def finish_all(self) -> None:
        for request in self.requests.all():
            await self.finish(request.id)

    async def drain_webhooks(self) -> None:
        """Wait for every delivery started so far (e.g. after a submit or cancel)."""
        await self.webhooks.drain()

    # -- auto mode -----------------------------------------------------------------------

    def _on_submitted(self, request: FakeRequest) -> None:
        self.driver.submitted(request)
        if self.mode == "auto":
            task = asyncio.create_task(self._pace(request))
            self._pacers.add(task)
            task.add_done_callback(self._pacers.discard)

    async def _pace(self, request: FakeRequest) -> None:
        try:
            while not request.terminal:
                if request.phase == IN_QUEUE:
                    await self.driver.ready_event(request.deployment_id).wait()
                await asyncio.sleep(self.step_delay)
                await self.driver.step(request)
        except Exception:
            log.exception("fake RunComfy request %s stopped advancing", request.id)
