"""SIGTERM while a result is being posted: the process stops taking work, lets the delivery
finish, then exits cleanly; the result is in the chat once and recorded as delivered."""

from __future__ import annotations

import signal
from pathlib import Path

import aiohttp

from adapters.mongo.database import create_client
from tests.e2e.test_run_cli import comfybot_process
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.waiting import eventually


async def test_a_sigterm_mid_delivery_loses_and_doubles_nothing(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with FakeTelegram() as telegram:
        stall = telegram.accept_then_stall("sendPhoto")
        async with comfybot_process(telegram, mongo_uri, tmp_path) as bot:
            await telegram.wait_for_call("setMyCommands", within=60)
            telegram.send_text(100, 7, "/txt2img a fox width=48 height=32")
            await stall.accepted.wait()  # the photo is in the chat; its answer is held
            bot.process.send_signal(signal.SIGTERM)

            async def stopped_listening() -> bool:
                try:
                    async with (
                        aiohttp.ClientSession() as session,
                        session.get(f"http://127.0.0.1:{bot.port}/healthz"),
                    ):
                        return False
                except aiohttp.ClientError:
                    return True

            await eventually(stopped_listening, within=30)  # draining: no new work taken
            assert bot.process.returncode is None  # still finishing the delivery
            stall.release()
        assert bot.process.returncode == 0
        photos = [m for m in telegram.messages.values() if m.get("photo")]
        assert len(photos) == 1
    client = create_client(mongo_uri)
    try:
        runs = await client[bot.database].runs.find({}).to_list()
    finally:
        await client.close()
    assert [r["delivery"] for r in runs] == ["delivered"]
