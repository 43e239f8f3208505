"""`SimulatorServer`: a local ComfyDeploy-compatible server with test controls.

In `auto` mode runs advance by themselves every `step_delay` seconds (for `comfybot demo`). In
`manual` mode nothing moves until a test calls `advance`/`finish`; those return once the webhooks
that step caused have been delivered or given up, so tests never sleep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal

import aiohttp
from aiohttp import web

from adapters.simulator.app import Api, build_app
from adapters.simulator.faults import RouteFaults
from adapters.simulator.files import FileStore
from adapters.simulator.lifecycle import RunDriver
from adapters.simulator.runs import RunBook, SimRun
from adapters.simulator.webhooks import WebhookSender

log = logging.getLogger(__name__)

Mode = Literal["manual", "auto"]
DEFAULT_API_KEY = "sim-key"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SimulatorServer:
    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        mode: Mode = "manual",
        step_delay: float = 0.3,
        webhook_backoff: tuple[float, float] = (0.5, 1.0),
        webhook_timeout: float = 20.0,
        fetch_timeout: float = 10.0,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
        gpu_pricing: dict[str, float] | None = None,
    ) -> None:
        """`public_url` (e.g. `http://sim.local:3011`) overrides the root of file/output URLs;
        `gpu_pricing` replaces the published price list (USD per GPU-second)."""
        self.mode: Mode = mode
        self.step_delay = step_delay
        self.host = host
        self.port = port
        self._public_url = public_url
        self.files = FileStore()
        self.runs = RunBook(clock)
        self.webhooks = WebhookSender(webhook_backoff, webhook_timeout)
        """Delivery record (`attempts`, `delivered()`) and webhook faults (`drop`, ...)."""
        self.faults = RouteFaults()
        """Route faults: `fail_next`, `hold`, and request counts in `hits`."""
        self._driver = RunDriver(self.files, self.webhooks, clock, fetch_timeout)
        api = Api(self.runs, self.files, self._driver, api_key, self._on_queued, gpu_pricing)
        self._app = build_app(api, self.faults)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._pacers: set[asyncio.Task[None]] = set()

    @property
    def root_url(self) -> str:
        """`http://host:port`, where outputs and uploaded inputs are served."""
        return self._public_url or f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base to give a client: `http://host:port/api`."""
        return f"{self.root_url}/api"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self.webhooks.session = self._session
        self._driver.session = self._session
        self._runner = web.AppRunner(self._app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.files.root_url = self.root_url

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
            self._driver.session = None

    async def __aenter__(self) -> SimulatorServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def run(self, run_id: str) -> SimRun:
        """A run's live state (KeyError when unknown)."""
        found = self.runs.get(run_id)
        if found is None:
            raise KeyError(run_id)
        return found

    async def advance(self, run_id: str) -> str:
        """Move one run one step; returns its status after webhooks for that step are done."""
        run = self.run(run_id)
        delivery = await self._driver.step(run)
        if delivery is not None:
            await delivery
        return run.status

    async def finish(self, run_id: str) -> str:
        """Advance one run until it is terminal; returns the terminal status."""
        run = self.run(run_id)
        while not run.terminal and run.next_step < len(run.plan):
            await self.advance(run_id)
        return run.status

    async def advance_all(self) -> None:
        """Move every unfinished run one step."""
        for run in self.runs.all():
            if not run.terminal:
                await self.advance(run.id)

    async def finish_all(self) -> None:
        for run in self.runs.all():
            await self.finish(run.id)

    async def drain_webhooks(self) -> None:
        """Wait for every delivery started so far (e.g. after a cancel) to finish."""
        await self.webhooks.drain()

    def _on_queued(self, run: SimRun) -> None:
        if self.mode == "auto":
            task = asyncio.create_task(self._pace(run))
            self._pacers.add(task)
            task.add_done_callback(self._pacers.discard)

    async def _pace(self, run: SimRun) -> None:
        try:
            while not run.terminal and run.next_step < len(run.plan):
                await asyncio.sleep(self.step_delay)
                await self._driver.step(run)
        except Exception:
            log.exception("simulated run %s stopped advancing", run.id)
