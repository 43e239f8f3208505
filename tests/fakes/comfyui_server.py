"""A fake ComfyUI server for tests: ComfyUI's native HTTP + WebSocket API on 127.0.0.1.

`async with FakeComfyUI() as comfy:` serves on a free port (`comfy.base_url`). In "auto" mode
(the default) every queued prompt runs to its end at once; in "manual" mode a test drives the
running prompt itself:

    comfy = FakeComfyUI(mode="manual")
    ...
    await comfy.step()                  # start the next prompt: execution_start, _cached
    await comfy.step()                  # run its next node
    await comfy.fail(node_id="3", message="CUDA out of memory")   # or: await comfy.finish()

Faults: `fail_next(route, status)`, `drop_next(route)` (cut the connection), `drop_websockets()`
(a lost event stream), `restart(keep_state=...)`, `go_down()` / `come_up()`. Everything is
recorded: `prompts` (accepted, with their graphs), `submissions` (also refused ones), `uploads`,
`requests`, `hits`, and every socket with the frames it got (`hub.all`).

Behaviour follows ComfyUI's server.py, execution.py and main.py
(https://github.com/comfyanonymous/ComfyUI); the pieces live in `comfyui_*` beside this file.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.comfyui_execution import Failure, OutputCache, PromptRun, Step
from tests.fakes.comfyui_faults import RouteFaults
from tests.fakes.comfyui_files import FileStore, StoredFile
from tests.fakes.comfyui_nodes import DEFAULT_CHECKPOINTS, Environment, JsonDict
from tests.fakes.comfyui_queue import PromptQueue
from tests.fakes.comfyui_routes import PromptRecord, Routes, UploadRecord
from tests.fakes.comfyui_sockets import SocketHub

__all__ = ["FakeComfyUI", "PromptRecord", "Step", "UploadRecord"]

WAIT_LIMIT = 10.0
"""Seconds a `wait_*` helper waits before failing the test (a hang guard, not a timing)."""


class FakeComfyUIState:
    """Queue, history, files, sockets and records; shared by the routes and the controls."""

    def __init__(self, checkpoints: list[str] | None, previews: bool) -> None:
        self._changed = asyncio.Condition()
        self.files = FileStore()
        self.env = Environment(self.files, list(checkpoints or DEFAULT_CHECKPOINTS))
        self.queue = PromptQueue()
        self.cache = OutputCache()
        self.hub = SocketHub(self._changed)
        self.faults = RouteFaults(self._changed)
        self.previews = previews
        self.number = 0
        self.current: PromptRun | None = None
        self.prompts: list[PromptRecord] = []
        self.submissions: list[PromptRecord] = []
        self.uploads: list[UploadRecord] = []
        self.interrupt_requests: list[str | None] = []
        self._advance_lock = asyncio.Lock()

    async def notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def queue_info(self) -> JsonDict:
        return {"exec_info": {"queue_remaining": self.queue.remaining()}}

    async def queue_updated(self) -> None:
        """ComfyUI broadcasts the queue size to every socket whenever the queue changes."""
        await self.hub.send("status", {"status": self.queue_info()}, None)
        await self.notify()

    async def request_interrupt(self) -> None:
        if self.current is not None:
            self.current.interrupt_requested = True
        await self.notify()

    async def cancel(self, prompt_id: str) -> bool:
        """`POST /api/jobs/{id}/cancel`: interrupt if running, dequeue if pending."""
        if self.current is not None and self.current.prompt_id == prompt_id:
            await self.request_interrupt()
            return True
        if self.queue.delete_pending(prompt_id):
            await self.queue_updated()
            return True
        return False

    async def advance(self, prompt_id: str | None, failure: Failure | None) -> Step:
        async with self._advance_lock:
            run = self.current
            if run is None:
                if prompt_id is not None and prompt_id in self.queue.running:
                    raise AssertionError(f"prompt {prompt_id} is running but has no executor")
                item = self.queue.pop_next(prompt_id)
                if item is None:
                    raise AssertionError(f"no queued prompt to run ({prompt_id or 'any'})")
                run = PromptRun(
                    item,
                    self.queue,
                    self.hub,
                    self.env,
                    self.cache,
                    self.previews,
                    self.queue_updated,
                )
                self.current = run
                await self.queue_updated()
            elif prompt_id is not None and prompt_id != run.prompt_id:
                raise AssertionError(
                    f"prompt {prompt_id} is not the running one ({run.prompt_id})"
                )
            step = await run.advance(failure)
            if step.terminal:
                self.current = None
            await self.notify()
            return step


class FakeComfyUI(FakeComfyUIState):
    def __init__(
        self,
        mode: str = "auto",
        *,
        checkpoints: list[str] | None = None,
        previews: bool = False,
    ) -> None:
        super().__init__(checkpoints, previews)
        if mode not in ("auto", "manual"):
            raise ValueError(f"mode must be 'auto' or 'manual', not {mode!r}")
        self._mode = mode
        self._runner: web.AppRunner | None = None
        self._worker: asyncio.Task[None] | None = None
        self.port = 0
        self.base_url = ""

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(
            client_max_size=100 * 1024 * 1024, middlewares=[self.faults.middleware]
        )
        Routes(self).install(app)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._sync_worker()
        return self.base_url

    async def stop(self) -> None:
        await self._stop_worker()
        await self.hub.drop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeComfyUI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def go_down(self) -> None:
        """Stop answering (connections refused) until `come_up`; open sockets are cut."""
        await self.stop()

    async def come_up(self, *, keep_state: bool = False, keep_files: bool = True) -> None:
        """Serve again on the same port. Without `keep_state` it is a fresh process: queue,
        history, cache and the prompt counter are gone (a running prompt is lost). Files
        (input/output/temp) are on disk in ComfyUI, so they stay unless `keep_files=False`."""
        if not keep_state:
            self.queue = PromptQueue()
            self.cache = OutputCache()
            self.current = None
            self.number = 0
        if not keep_files:
            self.files.files.clear()
        await self.start()

    async def restart(self, *, keep_state: bool = False, keep_files: bool = True) -> None:
        await self.go_down()
        await self.come_up(keep_state=keep_state, keep_files=keep_files)

    # -- run modes --------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode

    async def set_mode(self, mode: str) -> None:
        if mode not in ("auto", "manual"):
            raise ValueError(mode)
        self._mode = mode
        if mode == "manual":
            await self._stop_worker()
        self._sync_worker()
        await self.notify()

    def _sync_worker(self) -> None:
        if self._mode == "auto" and self._runner is not None and self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def _stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    async def _work(self) -> None:
        """Auto mode: run whatever is running or queued, step after step, yielding between."""
        while True:
            async with self._changed:
                await self._changed.wait_for(
                    lambda: self.current is not None or bool(self.queue.pending)
                )
            with contextlib.suppress(AssertionError):  # the queue emptied meanwhile
                await self.advance(None, None)
            await asyncio.sleep(0)

    async def step(self, prompt_id: str | None = None) -> Step:
        """Manual mode: start the next queued prompt (or `prompt_id`), or run its next node."""
        self._require_manual()
        return await self.advance(prompt_id, None)

    async def finish(self, prompt_id: str | None = None) -> Step:
        """Manual mode: run the prompt to its end (success, or an interrupt already asked)."""
        self._require_manual()
        step = await self.advance(prompt_id, None)
        while not step.terminal:
            step = await self.advance(step.prompt_id, None)
        return step

    async def fail(
        self,
        prompt_id: str | None = None,
        *,
        node_id: str | None = None,
        message: str = "Simulated failure",
        exception_type: str = "RuntimeError",
    ) -> Step:
        """Manual mode: run up to `node_id` (default: the next node to run) and make it raise."""
        self._require_manual()
        failure = Failure(message, exception_type, node_id)
        step = await self.advance(prompt_id, failure)
        while not step.terminal:
            step = await self.advance(step.prompt_id, failure)
        return step

    def _require_manual(self) -> None:
        if self._mode != "manual":
            raise AssertionError("step/finish/fail drive prompts in manual mode only")

    # -- waiting ----------------------------------------------------------------------------

    async def wait_until(self, predicate: Callable[[], Any]) -> None:
        """Wait until `predicate()` holds (re-checked on every change; bounded by WAIT_LIMIT)."""
        async with asyncio.timeout(WAIT_LIMIT), self._changed:
            await self._changed.wait_for(lambda: bool(predicate()))

    async def wait_for_prompt(self, count: int = 1) -> PromptRecord:
        """Wait until `count` prompts were accepted; returns the `count`-th."""
        await self.wait_until(lambda: len(self.prompts) >= count)
        return self.prompts[count - 1]

    async def wait_socket(self, sid: str, *, handshake: bool = True) -> None:
        """Wait until a socket is connected as `sid` (and, by default, sent feature_flags)."""

        def ready() -> bool:
            record = self.hub.by_sid.get(sid)
            return record is not None and (not handshake or bool(record.feature_flags))

        await self.wait_until(ready)

    async def wait_done(self, prompt_id: str) -> JsonDict:
        """Wait until the prompt is in history; returns its history entry."""
        await self.wait_until(lambda: prompt_id in self.queue.history)
        return self.queue.history[prompt_id]

    # -- faults and files -------------------------------------------------------------------

    def fail_next(
        self, route: str, status: int = 500, count: int = 1, body: JsonDict | str | None = None
    ) -> None:
        """Answer the next `count` requests to `route` (e.g. "/prompt") with `status`."""
        self.faults.fail_next(route, status, count, body)

    def drop_next(self, route: str, count: int = 1, *, handled: bool = False) -> None:
        """Cut the connection of the next `count` requests to `route`, unanswered (with
        `handled`, after doing what they asked: the answer alone is lost)."""
        self.faults.drop_next(route, count, handled=handled)

    def hold_next(self, route: str) -> asyncio.Event:
        """Hold the next request to `route` until the returned event is set (`held` counts
        the waiting ones); for making a race happen on purpose."""
        return self.faults.hold_next(route)

    async def drop_websockets(self, sid: str | None = None) -> int:
        """Cut open `/ws` sockets (all, or the one named `sid`); returns how many."""
        return await self.hub.drop(sid)

    @property
    def hits(self) -> Any:
        return self.faults.hits

    @property
    def requests(self) -> Any:
        return self.faults.requests

    @property
    def history(self) -> dict[str, JsonDict]:
        return self.queue.history

    def add_input(self, filename: str, data: bytes, subfolder: str = "") -> None:
        """Put a file into `input/` as if it was there before the test."""
        self.files.put("input", subfolder, filename, data)

    def file(self, folder: str, filename: str, subfolder: str = "") -> StoredFile | None:
        return self.files.get(folder, subfolder, filename)

    def clear_cache(self) -> None:
        self.cache.entries.clear()
