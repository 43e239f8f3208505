"""The Comfy API v2 in tests: the real `comfy-api-proxy` in front of a `FakeComfyUI`.

    async with ComfyApiStack(mode="manual", token="t0k") as stack:
        stack.api_url       # http://127.0.0.1:<port>, serving /api/v2/*
        stack.comfy         # the FakeComfyUI behind it

The proxy (https://github.com/Comfy-Org/comfy-api-proxy, MIT) runs in this event loop by
default: its `make_app` with the same middlewares its CLI adds (origin guard, then the bearer
token check when `token` is set), on a free port. `proxy="subprocess"` runs the installed
`comfy-api-proxy` command instead (`run --comfyui URL --host 127.0.0.1 --port P [--token T]
[--state-dir D]`) and waits for it to say it is listening. Both are stopped on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from comfy_api_proxy.app import make_app
from comfy_api_proxy.auth import make_bearer_auth_middleware
from comfy_api_proxy.middleware import make_origin_only_middleware

from tests.fakes.comfyui_server import FakeComfyUI

PROXY_START_TIMEOUT = 20.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProxyProcess:
    """`comfy-api-proxy run ...` as a child process, ready once it printed its address."""

    def __init__(self, comfyui_url: str, token: str | None, state_dir: Path | None) -> None:
        self.port = _free_port()
        self.args = ["--comfyui", comfyui_url, "--host", "127.0.0.1", "--port", str(self.port)]
        if token:
            self.args += ["--token", token]
        if state_dir is not None:
            self.args += ["--state-dir", str(state_dir)]
        self.process: asyncio.subprocess.Process | None = None
        self.output: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> str:
        executable = Path(sys.executable).with_name("comfy-api-proxy")
        self.process = await asyncio.create_subprocess_exec(
            str(executable),
            "run",
            *self.args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        ready = asyncio.get_running_loop().create_future()
        self._reader = asyncio.get_running_loop().create_task(self._read(ready))
        try:
            async with asyncio.timeout(PROXY_START_TIMEOUT):
                await ready
        except BaseException:
            await self.stop()
            raise
        return f"http://127.0.0.1:{self.port}"

    async def _read(self, ready: asyncio.Future[None]) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.output.append(line)
            if "Running on" in line and not ready.done():
                ready.set_result(None)
        if not ready.done():
            ready.set_exception(RuntimeError("comfy-api-proxy exited:\n" + "\n".join(self.output)))

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(10):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader


class ComfyApiStack:
    def __init__(
        self,
        comfy: FakeComfyUI | None = None,
        *,
        mode: str = "auto",
        token: str | None = None,
        proxy: str = "inprocess",
        state_dir: Path | None = None,
        **fake_options: Any,
    ) -> None:
        if proxy not in ("inprocess", "subprocess"):
            raise ValueError(f"proxy must be 'inprocess' or 'subprocess', not {proxy!r}")
        self.comfy = comfy or FakeComfyUI(mode, **fake_options)
        self.token = token
        self.proxy = proxy
        self.state_dir = state_dir
        self.api_url = ""
        self._runner: web.AppRunner | None = None
        self._process: ProxyProcess | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header the proxy wants (empty without a token)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def start(self) -> str:
        await self.comfy.start()
        try:
            if self.proxy == "subprocess":
                self._process = ProxyProcess(self.comfy.base_url, self.token, self.state_dir)
                self.api_url = await self._process.start()
            else:
                self.api_url = await self._start_in_process()
        except BaseException:
            await self.comfy.stop()
            raise
        return self.api_url

    async def _start_in_process(self) -> str:
        middlewares: list[Any] = [make_origin_only_middleware([])]
        if self.token:
            middlewares.append(make_bearer_auth_middleware(self.token))
        app = make_app(self.comfy.base_url, state_dir=self.state_dir, middlewares=middlewares)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Proxy first, then the fake. Event streams still open in the proxy lose their
        ComfyUI socket first, so they are cancelled while polling, not mid-request."""
        try:
            await self.comfy.drop_websockets()
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None
            if self._process is not None:
                await self._process.stop()
                self._process = None
        finally:
            await self.comfy.stop()

    async def __aenter__(self) -> ComfyApiStack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
