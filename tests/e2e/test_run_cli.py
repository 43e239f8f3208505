"""`comfybot run` as a process: Telegram via the fake Bot API, ComfyDeploy via the simulator."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from adapters.simulator import SimulatorServer
from tests.e2e.harness import free_port
from tests.fakes.telegram_api import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class BotProcess:
    process: asyncio.subprocess.Process
    port: int
    database: str


@asynccontextmanager
async def comfybot_process(
    telegram: FakeTelegram, mongo_uri: str, tmp_path: Path, **settings: str
) -> AsyncIterator[BotProcess]:
    """`comfybot run` against the simulator and the fake Bot API; stopped with SIGTERM at the
    end (if the test did not stop it), which must exit 0 with no token in its log."""
    port = free_port()
    database = f"run_{uuid.uuid4().hex[:10]}"
    async with SimulatorServer(mode="auto", step_delay=0.05) as simulator:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("COMFYDEPLOY_", "TELEGRAM_"))
        }
        env.update(
            PYTHONPATH=str(ROOT),
            COMFYDEPLOY_API_URL=simulator.base_url,
            COMFYDEPLOY_API_KEY="sim-key",
            MONGODB_URI=mongo_uri,
            MONGODB_DB=database,
            DATA_DIR=str(tmp_path),
            HTTP_PORT=str(port),
            PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            TELEGRAM_BOT_TOKEN=telegram.token,
            TELEGRAM_API_BASE_URL=telegram.base_url,
            LOG_LEVEL="INFO",
            **{k.upper(): v.format(port=port) for k, v in settings.items()},
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            yield BotProcess(process, port, database)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
        log = stderr.decode()
        assert process.returncode == 0, log[-2000:]
        assert telegram.token not in log


@asynccontextmanager
async def comfybot_run(
    telegram: FakeTelegram, mongo_uri: str, tmp_path: Path, **settings: str
) -> AsyncIterator[int]:
    """`comfybot run` with its HTTP port (yielded)."""
    async with comfybot_process(telegram, mongo_uri, tmp_path, **settings) as bot:
        yield bot.port


async def test_run_serves_telegram_by_polling(mongo_uri: str, tmp_path: Path) -> None:
    async with FakeTelegram() as telegram, comfybot_run(telegram, mongo_uri, tmp_path):
        menu = await telegram.wait_for_call("setMyCommands", within=60)
        assert "txt2img" in str(menu.params)
        assert len(telegram.sent("setMyCommands")) == 1

        telegram.send_text(100, 7, "/txt2img a red fox width=48 height=32")
        photo = await telegram.wait_for_call("sendPhoto", within=60)
        assert photo.chat_id == 100
        assert photo.text is not None and "✅ Done" in photo.text and " credits · " in photo.text


async def test_run_serves_telegram_by_webhook(mongo_uri: str, tmp_path: Path) -> None:
    hook = "http://127.0.0.1:{port}/telegram/hook"
    async with (
        FakeTelegram() as telegram,
        comfybot_run(telegram, mongo_uri, tmp_path, telegram_webhook_url=hook) as port,
    ):
        registration = await telegram.wait_for_call("setWebhook", within=60)
        assert registration.params["url"] == hook.format(port=port)
        assert registration.params["secret_token"]
        assert not telegram.sent("getUpdates")

        message = telegram.send_text(100, 7, "/workflows")
        assert await telegram.deliver_webhook({"message": message}, secret="wrong") == 403
        assert await telegram.deliver_webhook({"message": message}) == 200
        reply = await telegram.wait_for_call("sendMessage", within=30)
        assert reply.chat_id == 100 and "/txt2img" in (reply.text or "")
        assert len(telegram.sent("sendMessage")) == 1
