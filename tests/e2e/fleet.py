"""Several `comfybot run` processes on one database, for the tests of instances working side by
side (tests/e2e/test_polling_leader.py, tests/soak/test_fault_soak.py): each is started with
its own environment and log file, and can be killed (SIGKILL), stopped (SIGTERM) and started
again. Leases name their owner `<host>-<pid>-<random>`, so `owns` tells which process holds one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from tests.fakes.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
STOP_WITHIN_S = 60


class BotProcess:
    def __init__(self, name: str, env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.env = env
        self.log = folder / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=self.env, cwd=ROOT,
                stdout=log, stderr=log,
            )  # fmt: skip

    async def wait_ready(self, within: float = 60) -> None:
        """Until its GET /readyz answers 200 (started, database reachable, not draining)."""
        url = f"http://127.0.0.1:{self.env['HTTP_PORT']}/readyz"
        timeout = aiohttp.ClientTimeout(total=5)

        async def ready() -> bool:
            assert self.running, self.tail()
            try:
                async with aiohttp.ClientSession(timeout=timeout) as s, s.get(url) as reply:
                    return reply.status == 200
            except (aiohttp.ClientError, TimeoutError):
                return False

        await eventually(ready, within=within, every=0.1)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def owns(self, owner: str | None) -> bool:
        """Whether `owner` (a lease's or a claim's) is this process."""
        parts = owner.rsplit("-", 2) if owner else []
        return self.running and len(parts) == 3 and parts[1] == str(self.pid)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def kill(self) -> None:
        """SIGKILL, and wait until it is gone."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> int | None:
        """SIGTERM (unless it exited already); its exit code."""
        if self.process is None:
            return None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), STOP_WITHIN_S)

    async def ensure_gone(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.kill()
            await self.process.wait()

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text()[-chars:] if self.log.exists() else ""


def base_env(**settings: str) -> dict[str, str]:
    """This environment without the bot's own settings, plus `settings` (NAME=value)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMFYDEPLOY_", "TELEGRAM_"))}
    env.update(PYTHONPATH=str(ROOT), **settings)
    return env
