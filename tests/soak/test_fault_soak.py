"""The fault soak: 200 runs from 20 chats through two `comfybot run` processes on one database,
behind a load balancer, while webhooks are dropped, duplicated and reordered at random, 5% of
backend calls fail with 5xx/429, Telegram rate-limits every chat and once lets an upload time
out after accepting it, one process is killed with SIGKILL mid-run and restarted, and the
database restarts. Then every run has exactly one result in its chat, none lost, none doubled,
and every run that reached the backend is costed.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from adapters.mongo.database import create_client
from adapters.mongo.embedded import EmbeddedMongo, free_port
from adapters.mongo.run_codec import document_to_run
from adapters.simulator import Route, SimulatorServer
from core.credits import CENTS, charge_for
from tests.fakes.balancer import Balancer
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_limits import FloodLimits, Rate
from tests.fakes.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
CHATS = 20
RUNS_PER_CHAT = 10
WELCOME = 1000
"""Credits each user starts with: enough for all their runs."""
SEED = 20261201
SECRET = "soak-webhook-secret"


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

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 60)


def bot_env(port: int, mongo: str, database: str, lb: str, telegram: FakeTelegram,
            sim: SimulatorServer, data: Path) -> dict[str, str]:  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMFYDEPLOY_", "TELEGRAM_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        COMFYDEPLOY_API_URL=sim.base_url,
        COMFYDEPLOY_API_KEY="sim-key",
        MONGODB_URI=mongo,
        MONGODB_DB=database,
        MONGODB_TIMEOUT_SECONDS="5",
        DATA_DIR=str(data),
        HTTP_PORT=str(port),
        PUBLIC_BASE_URL=lb,
        WEBHOOK_SECRET=SECRET,
        CATALOG_FILE=str(data.parent / "empty.yaml"),
        ROUTING_FILE=str(data.parent / "empty.yaml"),
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        TELEGRAM_WEBHOOK_URL=f"{lb}/webhooks/telegram",
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_TIMEOUT_SECONDS="2",
        DELIVERY_LEASE_SECONDS="3",
        SWEEP_SECONDS="1",
        POLL_AFTER_SECONDS="2",
        POLL_INTERVAL_SECONDS="1",
        NEW_USER_CREDITS=str(WELCOME),
        MAX_QUEUED_PER_USER=str(RUNS_PER_CHAT),  # every command admitted; 2 run at once
        PENDING_LOCATE_AFTER_SECONDS="3",
        PENDING_GIVE_UP_SECONDS="60",
        SHUTDOWN_GRACE_SECONDS="5",
        LOG_LEVEL="WARNING",
    )
    return env


@pytest.mark.timeout(200)  # past the wait for settling, so a stuck run is explained
async def test_every_run_has_exactly_one_result_whatever_fails(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    (tmp_path / "empty.yaml").write_text("")
    database = f"soak_{uuid.uuid4().hex[:8]}"
    mongo = EmbeddedMongo(tmp_path / "db", port=free_port())
    uri = (await mongo.start()).replace("directConnection=true", "directConnection=true")
    limits = FloodLimits(per_chat=Rate(3, 1.0), per_group=None, overall=Rate(30, 1.0))
    telegram = FakeTelegram(limits=limits, push_webhooks=True)
    sim = SimulatorServer(mode="auto", step_delay=0.05, webhook_backoff=(0.05, 0.1))
    ports = [free_port(), free_port()]
    balancer = Balancer([f"http://127.0.0.1:{p}" for p in ports], rng)
    bots: list[BotProcess] = []
    started = time.monotonic()
    try:
        await telegram.start()
        await sim.start()
        lb = await balancer.start()
        sim.webhooks.chaos(drop=0.1, duplicate=0.1, defer=0.1, rng=rng)
        for route in (Route.QUEUE, Route.GET_RUN):
            sim.faults.chaos(route, 0.05, (429, 502, 503), rng)
        for index, port in enumerate(ports):
            data = tmp_path / f"bot{index}"
            env = bot_env(port, uri, database, lb, telegram, sim, data)
            bots.append(BotProcess(f"bot{index}", env, tmp_path))
        await asyncio.gather(*(b.start() for b in bots))
        await telegram.wait_for_call("setWebhook", within=60, count=2)
        stall = telegram.accept_then_stall("sendPhoto")  # one upload accepted, answer lost

        commands: dict[int, tuple[int, int]] = {}
        for number in range(CHATS * RUNS_PER_CHAT):
            chat = 1000 + number % CHATS
            message = telegram.send_text(chat, 70 + number % CHATS, f"/txt2img soak {number}")
            commands[number] = (chat, message["message_id"])
            if number == 60:
                bots[0].kill()  # mid-run: it holds submits, deliveries and webhooks
                await bots[0].process.wait()  # type: ignore[union-attr]
                await bots[0].start()
            if number == 130:
                await mongo.stop()  # the database goes away under both processes
                await mongo.start()
            if number % 20 == 0:
                await asyncio.sleep(0)
        await stall.accepted.wait()
        stall.release()

        client = create_client(uri)
        try:
            runs_coll = client[database].runs

            async def all_settled() -> bool:
                try:
                    n = await runs_coll.count_documents({})
                    settled = await runs_coll.count_documents(
                        {"delivery": {"$in": ["delivered", "abandoned"]}}
                    )
                except Exception:
                    return False
                return n >= len(commands) and settled == n

            try:
                await eventually(all_settled, within=120, every=0.5)
            except TimeoutError:
                runs = await runs_coll.find({}).to_list()
                stuck = await runs_coll.find(
                    {"delivery": {"$nin": ["delivered", "abandoned"]}}
                ).to_list()
                raise AssertionError(
                    f"{len(stuck)} runs never settled: "
                    + "; ".join(_explain(r, -1, telegram, bots) for r in stuck[:5])
                    + "; "
                    + "; ".join(_explain_lost(commands, runs, telegram))
                ) from None
            runs = await runs_coll.find({}).to_list()
            accounts = await client[database].accounts.find({}).to_list()
        finally:
            await client.close()
        elapsed = time.monotonic() - started
        codes = await asyncio.gather(*(b.stop() for b in bots))
    finally:
        for bot in bots:
            if bot.process is not None and bot.process.returncode is None:
                bot.process.kill()
                await bot.process.wait()
        await balancer.stop()
        await sim.stop()
        await telegram.stop()
        await mongo.stop()

    assert codes == [0, 0], [b.log.read_text()[-3000:] for b in bots]
    by_message = _runs_per_command(runs, commands)
    assert all(n >= 1 for n in by_message.values()), "a command was lost"
    photos = _photos_per_run(telegram)
    for run in runs:
        shown = photos.get(run["_id"], 0)
        if run["status"] == "success":
            assert shown == 1, _explain(run, shown, telegram, bots)
            assert run.get("cost_usd") is not None, run["_id"]
        else:
            assert shown == 0, (run["_id"], run["status"])
            if run.get("backend_run_id"):
                assert "cost_usd" in run, run["_id"]
        assert run["delivery"] == "delivered", (run["_id"], run["delivery"])
    _assert_settled_exactly(runs, accounts)
    ok = sum(1 for r in runs if r["status"] == "success")
    print(
        f"\nsoak: {len(commands)} commands -> {len(runs)} runs ({ok} success) in {elapsed:.1f} s;"
        f" webhooks dropped {len(sim.webhooks.dropped)}, attempts {len(sim.webhooks.attempts)};"
        f" telegram 429s {sum(telegram.flood_429s.values())}; balancer {dict(balancer.sent)};"
        f" commands run twice {sum(1 for n in by_message.values() if n > 1)}"
    )


def _assert_settled_exactly(runs: list[dict[str, Any]], accounts: list[dict[str, Any]]) -> None:
    """Every user's balance is what they started with less the charge of each of their runs,
    nothing is still held, and no slot is left taken."""
    charged: dict[str, int] = {}
    for doc in runs:
        run = document_to_run(doc)
        charged[run.chat.user_key] = charged.get(run.chat.user_key, 0) + charge_for(run)
    assert len(accounts) == CHATS
    for account in accounts:
        user = account["_id"]
        assert account["available"] == WELCOME * CENTS - charged.get(user, 0), user
        assert (account["reserved"], account["active"], account["running"]) == (0, [], []), user


def _runs_per_command(runs: list[dict[str, Any]], commands: dict[int, tuple[int, int]]) -> dict:  # type: ignore[type-arg]
    made = {(int(r["chat"]["chat_id"]), int(r["chat"]["message_id"])) for r in runs}
    counts: dict[tuple[int, int], int] = {key: 0 for key in commands.values()}
    for run in runs:
        key = (int(run["chat"]["chat_id"]), int(run["chat"]["message_id"]))
        counts[key] = counts.get(key, 0) + 1
    assert made <= set(counts)
    return counts


def _explain_lost(
    commands: dict[int, tuple[int, int]], runs: list[dict[str, Any]], telegram: FakeTelegram
) -> list[str]:
    """Each command with no run: what became of the update that carried it."""
    made = {(int(r["chat"]["chat_id"]), int(r["chat"]["message_id"])) for r in runs}
    lost = []
    for number, key in commands.items():
        if key in made:
            continue
        ids = [i for i, u in telegram.update_log.items() if _message_key(u) == key]
        attempts = [(a.status, a.error) for a in telegram.webhook_log if a.update_id in ids]
        lost.append(f"command {number} lost: update {ids}, webhook attempts {attempts}")
    return lost


def _message_key(update: dict[str, Any]) -> tuple[int, int] | None:
    message = update.get("message")
    return None if message is None else (message["chat"]["id"], message["message_id"])


def _photos_per_run(telegram: FakeTelegram) -> dict[str, int]:
    shown: dict[str, int] = {}
    for message in telegram.messages.values():
        if message.get("photo"):
            found = re.search(r"run ([0-9a-f]{12})", message.get("caption") or "")
            if found:
                shown[found.group(1)] = shown.get(found.group(1), 0) + 1
    return shown


def _explain(
    run: dict[str, Any], shown: int, telegram: FakeTelegram, bots: list[BotProcess]
) -> str:
    """What happened to a run whose result is missing or doubled: for the failure message."""
    calls = [(c.method, c.error) for c in telegram.calls if str(run["_id"]) in str(c.params)]
    logs = [
        line for bot in bots for line in bot.log.read_text().splitlines() if run["_id"] in line
    ]
    state = {k: run.get(k) for k in ("status", "delivery", "delivery_parts", "backend_run_id")}
    return f"run {run['_id']}: {shown} photos; {state}; calls {calls}; logs {logs[:10]}"
