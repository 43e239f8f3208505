"""Long polling with two `comfybot run` processes on one database: exactly one polls at a time
(the fake Bot API, like Telegram, cuts a waiting long poll short with 409 Conflict when
another arrives, and records it), and when the poller dies (SIGKILL) the other takes the
polling over within LEADER_LEASE_SECONDS; commands before and after are each answered once."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from adapters.mongo.database import create_client
from adapters.simulator import SimulatorServer
from tests.e2e.fleet import BotProcess, base_env
from tests.e2e.harness import free_port
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.waiting import eventually

LEASE_S = 5.0
"""A dead holder is replaced within 7/8 of this (its last grant, 3/4, and the others' next try,
1/8); the rest is room for a loaded host to schedule the processes."""
POLLING = "telegram:polling"


async def test_one_instance_polls_and_the_other_takes_over_when_it_dies(
    mongo_uri: str, tmp_path: Path
) -> None:
    database = f"polling_{uuid.uuid4().hex[:10]}"
    client = create_client(mongo_uri)
    leases = client[database].leases
    bots: list[BotProcess] = []
    (tmp_path / "empty.yaml").write_text("")
    async with FakeTelegram() as telegram, SimulatorServer(mode="auto", step_delay=0.02) as sim:
        for index in range(2):
            env = base_env(
                COMFYDEPLOY_API_URL=sim.base_url,
                COMFYDEPLOY_API_KEY="sim-key",
                MONGODB_URI=mongo_uri,
                MONGODB_DB=database,
                DATA_DIR=str(tmp_path / f"bot{index}"),
                CATALOG_FILE=str(tmp_path / "empty.yaml"),
                ROUTING_FILE=str(tmp_path / "empty.yaml"),
                HTTP_PORT=str(free_port()),
                PUBLIC_BASE_URL="",  # every run polled: the simulator's webhooks need no port
                POLL_INTERVAL_SECONDS="0.5",
                POLL_AFTER_SECONDS="0.5",
                TELEGRAM_BOT_TOKEN=telegram.token,
                TELEGRAM_API_BASE_URL=telegram.base_url,
                LEADER_LEASE_SECONDS=str(LEASE_S),
                LOG_LEVEL="INFO",
            )
            bots.append(BotProcess(f"bot{index}", env, tmp_path))

        async def poller() -> BotProcess | None:
            doc = await leases.find_one({"_id": POLLING})
            owner = doc.get("owner") if doc else None
            return next((bot for bot in bots if bot.owns(owner)), None)

        async def someone_polls() -> bool:
            return await poller() is not None and telegram.live_polls == 1

        try:
            for bot in bots:
                await bot.start()
            await eventually(someone_polls, within=60, every=0.1)
            first = await poller()
            assert first is not None
            other = next(bot for bot in bots if bot is not first)
            telegram.send_text(100, 7, "/txt2img a fox width=32 height=32")
            await telegram.wait_for_call("sendPhoto", within=60)

            await first.kill()
            killed_at = time.monotonic()

            async def the_other_polls() -> bool:
                return await poller() is other

            await eventually(the_other_polls, within=LEASE_S * 2, every=0.05)
            lease_taken_s = time.monotonic() - killed_at
            telegram.send_text(101, 8, "/txt2img a hare width=32 height=32")
            await telegram.wait_for_call("sendPhoto", lambda c: c.chat_id == 101, within=60)
            first_poll = min(
                c.at for c in telegram.calls if c.method == "getUpdates" and c.at > killed_at
            )
            assert await other.stop() == 0, other.tail()
        finally:
            for bot in bots:
                await bot.ensure_gone()
            await client.close()

    # Both processes ran side by side for the whole first part: never two polls at once.
    live_conflicts = [c for c in telegram.poll_conflicts if c.live]
    assert live_conflicts == [], live_conflicts
    assert lease_taken_s <= LEASE_S, lease_taken_s
    polled_again_s = first_poll - killed_at
    assert polled_again_s <= LEASE_S, polled_again_s
    for chat in (100, 101):
        assert len([c for c in telegram.sent("sendPhoto") if c.chat_id == chat]) == 1
    print(
        f"\npolling takeover after SIGKILL: lease {lease_taken_s:.2f} s, first poll"
        f" {polled_again_s:.2f} s (LEADER_LEASE_SECONDS={LEASE_S:g})"
    )
