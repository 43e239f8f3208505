"""SIGTERM while a result is being posted: /readyz says 503 at once (a load balancer stops
sending traffic), the leases are handed over, the delivery finishes, then the process exits
cleanly; the result is in the chat once and recorded as delivered."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import aiohttp

from adapters.mongo.database import create_client
from tests.e2e.test_run_cli import comfybot_process
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.waiting import eventually


async def status_of(port: int, path: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.json()


async def test_a_sigterm_mid_delivery_loses_and_doubles_nothing(
    mongo_uri: str, tmp_path: Path
) -> None:
    client = create_client(mongo_uri)
    async with FakeTelegram() as telegram:
        stall = telegram.accept_then_stall("sendPhoto")
        async with comfybot_process(telegram, mongo_uri, tmp_path) as bot:
            leases = client[bot.database].leases
            await telegram.wait_for_call("setMyCommands", within=60)
            assert await status_of(bot.port, "/readyz") == (
                200,
                {"ready": True, "database": "ok", "engine": "started", "draining": False},
            )
            assert await leases.count_documents({"owner": {"$ne": None}}) == 2  # sweeps, polling
            telegram.send_text(100, 7, "/txt2img a fox width=48 height=32")
            await stall.accepted.wait()  # the photo is in the chat; its answer is held
            bot.process.send_signal(signal.SIGTERM)

            async def draining() -> bool:
                return (await status_of(bot.port, "/readyz"))[0] == 503

            await eventually(draining, within=30, every=0.05)
            _, body = await status_of(bot.port, "/readyz")
            assert body["draining"] is True and body["ready"] is False
            assert (await status_of(bot.port, "/healthz"))[0] == 200  # alive, just leaving

            async def handed_over() -> bool:
                return await leases.count_documents({"owner": {"$ne": None}}) == 0

            await eventually(handed_over, within=30, every=0.05)
            assert bot.process.returncode is None  # still finishing the delivery
            stall.release()
        assert bot.process.returncode == 0
        photos = [m for m in telegram.messages.values() if m.get("photo")]
        assert len(photos) == 1
    try:
        runs = await client[bot.database].runs.find({}).to_list()
    finally:
        await client.close()
    assert [r["delivery"] for r in runs] == ["delivered"]
