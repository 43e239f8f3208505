"""The fault soak: 200 runs from 20 chats and 24 asked of the HTTP API
(tests/soak/api_clients.py) through three `comfybot run` processes on one database, behind a
load balancer that health-checks /readyz, while webhooks are dropped, duplicated and reordered
at random, Telegram posts some updates twice (again after the first was answered, or at the
same time to another instance), API clients send POSTs again with their Idempotency-Key,
5% of backend calls fail with 5xx/429, Telegram rate-limits every chat and once lets an upload
time out after accepting it, the holder of the sweeps lease is killed with SIGKILL mid-run and
restarted, the database restarts, and the next holder is stopped with SIGTERM and restarted.
Then every run has exactly one result in its chat, none lost, none doubled (but for an upload
the SIGKILL cut short, which arrives at most once: README "What exactly once means"), every run
that reached the backend is costed and every balance settled, every update was handled once
(again only after its handler was killed, stopped or lost the database), each chat's runs were
recorded in the order of its commands, each API run is one run whatever instances its POSTs
reached, ended with its outputs listed and its callback received once, and the lease changed
hands within LEADER_LEASE_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.mongo.database import create_client
from adapters.mongo.embedded import EmbeddedMongo, free_port
from adapters.mongo.run_codec import document_to_run
from adapters.simulator import Route, SimulatorServer
from core.credits import CENTS, charge_for
from core.lease import LeaseTiming
from core.models import RunStatus
from tests.e2e.fleet import BotProcess, base_env
from tests.fakes.balancer import Balancer
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_limits import FloodLimits, Rate
from tests.fakes.waiting import eventually
from tests.soak.api_clients import RETRY_S, ApiClients, Callbacks, create_keys

CHATS = 20
RUNS_PER_CHAT = 10
WELCOME = 1000
"""Credits each user starts with: enough for all their runs."""
SEED = 20261201
SECRET = "soak-webhook-secret"
BOTS = 3
LEASE_S = 3.0
SWEEPS = "sweeps"
REDELIVER_EVERY = 10
"""Every 10th command's update is posted again after Telegram had its answer."""
RACE_EVERY = 25
"""Every 25th command's update is also posted while the first post is under way."""
API_KEYS = 1
"""Made with `comfybot apikey create` (a process each: one, so it costs the bots' start little)."""
API_BATCH = 8
"""HTTP API runs asked for at the start, after 60 commands were answered and after 130: each
batch meets a fault (the SIGKILL, the database restart, the SIGTERM)."""


def bot_env(port: int, mongo: str, database: str, lb: str, telegram: FakeTelegram,
            sim: SimulatorServer, data: Path) -> dict[str, str]:  # fmt: skip
    return base_env(
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
        # Longer than the database restart takes: a claim that ran out meanwhile would leave a
        # photo Telegram refused marked `sending` (its process could not take that back) for
        # the next holder, which then never sends it (production: 60 s).
        DELIVERY_LEASE_SECONDS="6",
        SWEEP_SECONDS="1",
        POLL_AFTER_SECONDS="2",
        POLL_INTERVAL_SECONDS="1",
        NEW_USER_CREDITS=str(WELCOME),
        # Every command and API run admitted (the API key asks for all its runs); 2 run at once.
        MAX_QUEUED_PER_USER=str(3 * API_BATCH),
        RATE_LIMIT_PER_USER=str(6 * API_BATCH),  # a minute's POSTs, repeats and retries
        PENDING_LOCATE_AFTER_SECONDS="3",
        # A run whose submit the SIGKILL cut short before it reached the backend is not found
        # there (`locate`) and ends `failed` once this is past (production: 15 min); at 60 s it
        # was the soak's last minute.
        PENDING_GIVE_UP_SECONDS="10",
        # Credits held for a command the SIGKILL cut short before its run was recorded are
        # given back after this (production: 60 s); at 60 s it was the soak's last minute.
        QUEUE_REPAIR_AFTER_SECONDS="10",
        # Past the longest flood wait a paced send sits out (20 s): a send cut short while it
        # waits would stay marked `sending` and never go (at most once).
        SHUTDOWN_GRACE_SECONDS="25",
        LEADER_LEASE_SECONDS=str(LEASE_S),
        CALLBACK_ALLOW_PRIVATE="true",  # the callback receiver is on 127.0.0.1
        LOG_LEVEL="INFO",
    )


ENDED = [status.value for status in RunStatus if status.terminal]
EVENTS: list[str] = []
"""The faults as they happened, wall clock (for failure messages)."""
PHASES: list[str] = []
"""Seconds into the soak each step was reached (where the time goes)."""


def _now() -> str:
    return f"{datetime.now(UTC):%T.%f}"


class Duplicates:
    """Telegram posting an update twice: after its first post was answered 2XX (`again_after`),
    or while the first post is under way (`racing`: when the chat's update before it was
    answered, the pusher is on it). One watcher reads the webhook log as it grows."""

    def __init__(self, telegram: FakeTelegram) -> None:
        self._telegram = telegram
        self._read = 0
        self._delivered: set[int] = set()
        self._plans: list[tuple[int, Callable[[], None]]] = []
        """(the update whose delivery triggers it, what to do then)"""
        self._races: list[asyncio.Task[None]] = []
        self._watcher: asyncio.Task[None] | None = None
        self.update_ids: list[int] = []
        self.answered: list[int] = []
        """The HTTP status of each racing post."""

    def again_after(self, update_id: int) -> None:
        self._plan(update_id, update_id, lambda: self._telegram.redeliver(update_id))

    def racing(self, update_id: int, after: int) -> None:
        """Posted again once `after` (the chat's update before it) was answered."""

        def race() -> None:
            self._races.append(asyncio.ensure_future(self._race(update_id)))

        self._plan(after, update_id, race)

    def _plan(self, trigger: int, update_id: int, action: Callable[[], None]) -> None:
        self.update_ids.append(update_id)
        self._plans.append((trigger, action))
        if self._watcher is None:
            self._watcher = asyncio.ensure_future(self._telegram.wait_for(self._fire, within=150))

    def _fire(self) -> bool:
        log = self._telegram.webhook_log
        self._delivered.update(a.update_id for a in log[self._read :] if a.ok)
        self._read = len(log)
        due = [plan for plan in self._plans if plan[0] in self._delivered]
        for plan in due:
            self._plans.remove(plan)
            plan[1]()
        return not self._plans

    async def _race(self, update_id: int) -> None:
        update = self._telegram.update_log[update_id]
        for _ in range(20):  # as Telegram would: until one is answered
            try:
                status = await self._telegram.post_update(update)
            except (OSError, TimeoutError, aiohttp.ClientError):
                continue
            self.answered.append(status)
            if 200 <= status < 300:
                return

    async def wait(self) -> None:
        if self._watcher is not None:
            await self._watcher
        await asyncio.gather(*self._races)

    def cancel(self) -> None:
        for task in [self._watcher, *self._races]:
            if task is not None:
                task.cancel()


class Answered:
    """How many updates the bots have answered 2XX, read from the webhook log as it grows."""

    def __init__(self, telegram: FakeTelegram) -> None:
        self._telegram = telegram
        self._read = 0
        self._ids: set[int] = set()

    def count(self) -> int:
        log = self._telegram.webhook_log
        self._ids.update(a.update_id for a in log[self._read :] if a.ok)
        self._read = len(log)
        return len(self._ids)

    async def at_least(self, count: int) -> None:
        await self._telegram.wait_for(lambda: self.count() >= count, within=120)


class LeaseWatch:
    """Who holds the sweeps lease, read from the database, and how long a change took."""

    def __init__(self, uri: str, database: str, bots: list[BotProcess]) -> None:
        self._client = create_client(uri, server_selection_timeout_ms=5000)
        self.db = self._client[database]
        self._leases = self.db.leases
        self._bots = bots
        self.takeovers: dict[str, float] = {}

    async def holder(self) -> BotProcess | None:
        try:
            doc = await self._leases.find_one({"_id": SWEEPS})
        except Exception:
            return None
        owner = doc.get("owner") if doc else None
        until = doc.get("until") if doc else None
        if until is None or until <= datetime.now(UTC):
            return None
        return next((bot for bot in self._bots if bot.owns(owner)), None)

    async def owner_id(self) -> str:
        doc = await self._leases.find_one({"_id": SWEEPS})
        assert doc is not None
        return str(doc["owner"])

    async def wait_for_holder(self) -> BotProcess:
        found: list[BotProcess] = []

        async def held() -> bool:
            bot = await self.holder()
            if bot is not None:
                found.append(bot)
            return bot is not None

        await eventually(held, within=60, every=0.05)
        return found[-1]

    async def time_takeover(self, what: str, gone: BotProcess, since: float) -> None:
        """Wait until a live process other than `gone` holds the lease; record how long."""

        async def taken() -> bool:
            bot = await self.holder()
            return bot is not None and bot is not gone

        await eventually(taken, within=LEASE_S * 3, every=0.05)
        self.takeovers[what] = time.monotonic() - since

    async def close(self) -> None:
        await self._client.close()


@pytest.mark.timeout(200)  # past the wait for settling, so a stuck run is explained
async def test_every_run_has_exactly_one_result_whatever_fails(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    (tmp_path / "empty.yaml").write_text("")
    database = f"soak_{uuid.uuid4().hex[:8]}"
    mongo = EmbeddedMongo(tmp_path / "db", port=free_port())
    uri = await mongo.start()
    limits = FloodLimits(per_chat=Rate(3, 1.0), per_group=None, overall=Rate(30, 1.0))
    telegram = FakeTelegram(limits=limits, push_webhooks=True)
    telegram.webhook_connections = 4  # Telegram allows up to max_connections (40) at once
    sim = SimulatorServer(mode="auto", step_delay=0.05, webhook_backoff=(0.05, 0.1))
    ports = [free_port() for _ in range(BOTS)]
    balancer = Balancer(
        [f"http://127.0.0.1:{p}" for p in ports], rng, health_path="/readyz", check_every_s=0.25
    )
    duplicates = Duplicates(telegram)
    answered = Answered(telegram)
    callbacks = Callbacks()
    api: ApiClients | None = None
    api_task: asyncio.Future[Any] | None = None
    bots: list[BotProcess] = []
    watch = LeaseWatch(uri, database, bots)
    gone: dict[str, str] = {}
    """Owner ids of the process killed and of the one stopped."""
    outage: list[datetime] = []
    """When the database went down and came back (the bots' clocks are this machine's)."""
    events = EVENTS
    events.clear()
    PHASES.clear()
    in_doubt: set[str] = set()
    """Runs whose upload the SIGKILL cut short."""
    faults: list[tuple[float, float]] = []
    """When (time.monotonic()) each fault began and ended: the SIGKILL, the database restart,
    the SIGTERM until its process exited."""
    started = time.monotonic()

    def phase(name: str) -> None:
        PHASES.append(f"{time.monotonic() - started:.1f} {name}")

    try:
        await telegram.start()
        await sim.start()
        await callbacks.start()
        lb = await balancer.start()
        sim.webhooks.chaos(drop=0.1, duplicate=0.1, defer=0.1, rng=rng)
        for route in (Route.QUEUE, Route.GET_RUN):
            sim.faults.chaos(route, 0.05, (429, 502, 503), rng)
        for index, port in enumerate(ports):
            data = tmp_path / f"bot{index}"
            env = bot_env(port, uri, database, lb, telegram, sim, data)
            bots.append(BotProcess(f"bot{index}", env, tmp_path))
        await asyncio.gather(*(b.start() for b in bots))
        names = [f"soak-api-{n}" for n in range(API_KEYS)]
        making = asyncio.ensure_future(create_keys(bots[0].env, names, WELCOME))  # by the CLI
        await telegram.wait_for_call("setWebhook", within=60, count=BOTS)
        phase("webhooks set")
        stall = telegram.accept_then_stall("sendPhoto")  # one upload accepted, answer lost
        api = ApiClients(lb, callbacks)
        await api.start()

        async def batch(after: int) -> None:
            assert api is not None
            keys = await making
            await answered.at_least(after)
            await api.ask(keys, API_BATCH)

        api_task = asyncio.ensure_future(asyncio.gather(batch(0), batch(60), batch(130)))

        commands: dict[int, tuple[int, int]] = {}
        last_of_chat: dict[int, int] = {}
        for number in range(CHATS * RUNS_PER_CHAT):
            chat = 1000 + number % CHATS
            message = telegram.send_text(chat, 70 + number % CHATS, f"/txt2img soak {number}")
            commands[number] = (chat, message["message_id"])
            update_id = max(telegram.update_log)
            if number % REDELIVER_EVERY == 5:
                duplicates.again_after(update_id)
            if number % RACE_EVERY == 12 and chat in last_of_chat:
                duplicates.racing(update_id, after=last_of_chat[chat])
            last_of_chat[chat] = update_id
            if number % 20 == 0:
                await asyncio.sleep(0)

        # The faults, each once that many commands were answered: mid-run, with runs in flight.
        await answered.at_least(60)
        phase("answered 60")
        leader = await watch.wait_for_holder()  # it holds the sweeps, submits, deliveries
        gone["killed"] = await watch.owner_id()
        phase("holder found")
        # Killed between two uploads if one comes soon (an upload cut short arrives at most
        # once, which is counted, not failed); either way with deliveries and submits on hand.
        with contextlib.suppress(TimeoutError):
            await eventually(lambda: _no_upload_under_way(watch.db), within=1.5, every=0.1)
        killed_at = time.monotonic()
        await leader.kill()
        faults.append((killed_at, time.monotonic()))
        phase("killed")
        events.append(f"{_now()} SIGKILL {leader.name}")
        in_doubt = await _sends_in_doubt(watch.db, telegram)
        await watch.time_takeover("SIGKILL", leader, killed_at)
        phase("taken over")
        await leader.start()
        await leader.wait_ready()
        await answered.at_least(130)
        phase("answered 130")
        outage.append(datetime.now(UTC))
        down = time.monotonic()
        await mongo.stop()  # the database goes away under every process
        await mongo.start()
        phase("db back")
        outage.append(datetime.now(UTC))
        faults.append((down, time.monotonic()))
        events.append(f"{outage[0]:%T.%f} - {outage[1]:%T.%f} database restart")
        await answered.at_least(160)
        phase("answered 160")
        leader = await watch.wait_for_holder()  # a rolling restart of the next holder
        gone["stopped"] = await watch.owner_id()
        asked = time.monotonic()
        events.append(f"{_now()} SIGTERM {leader.name}")
        stopping = asyncio.create_task(leader.stop())
        await watch.time_takeover("SIGTERM", leader, asked)
        assert await stopping == 0, leader.tail()
        faults.append((asked, time.monotonic()))
        phase("stopped")
        events.append(f"{_now()} {leader.name} exited")
        restarting = asyncio.ensure_future(_restart(leader))  # while the rest is delivered
        await stall.accepted.wait()
        phase("stall accepted")
        stall.release()

        await _wait_until_settled(watch.db.runs, commands, 3 * API_BATCH, telegram, bots)
        phase("settled")
        await asyncio.wait_for(duplicates.wait(), 60)
        await asyncio.wait_for(api_task, 60)
        views = await _api_views_and_outputs(api)
        await restarting
        phase("checked")
        runs = await watch.db.runs.find({}).to_list()
        accounts = await watch.db.accounts.find({}).to_list()
        updates = await watch.db.inbound_updates.find({}).to_list()
        elapsed = time.monotonic() - started
        codes = await asyncio.gather(*(b.stop() for b in bots))
        phase("bots stopped")
    finally:
        duplicates.cancel()
        if api_task is not None:
            api_task.cancel()
        if api is not None:
            await api.stop()
        await callbacks.stop()
        for bot in bots:
            await bot.ensure_gone()
        await watch.close()
        await balancer.stop()
        await sim.stop()
        await telegram.stop()
        await mongo.stop()

    assert codes == [0] * BOTS, [b.tail() for b in bots]
    chat_runs = [r for r in runs if r["chat"]["platform"] == "telegram"]
    api_runs = [r for r in runs if r["chat"]["platform"] == "api"]
    assert len(chat_runs) + len(api_runs) == len(runs)
    by_message = _runs_per_command(chat_runs, commands)
    assert all(n == 1 for n in by_message.values()), "a command was lost or run twice"
    assert api is not None
    _assert_api_runs_once(api, api_runs, views, callbacks, faults)
    photos = _photos_per_run(telegram)
    for run in chat_runs:
        shown = photos.get(run["_id"], 0)
        if run["status"] == "success" and run["_id"] in in_doubt and not shown:
            assert run["delivery_parts"] == {"photos-0": "sending"}, run["_id"]
        elif run["status"] == "success":
            assert shown == 1, _explain(run, shown, telegram, bots)
            assert run.get("cost_usd") is not None, run["_id"]
        else:
            assert shown == 0, (run["_id"], run["status"])
            if run.get("submitted_at") is not None:  # recorded on the backend, with its rate
                assert run.get("cost_usd") is not None, run["_id"]
        assert run["delivery"] == "delivered", (run["_id"], run["delivery"])
    _assert_settled_exactly(runs, accounts)
    _assert_in_order_per_chat(chat_runs)
    again = _assert_each_update_handled_once(updates, len(telegram.update_log), gone, outage)
    assert all(seconds <= LEASE_S for seconds in watch.takeovers.values()), watch.takeovers
    # Handed over, not run out: a grant left to run out lasts at least 3/4 L - L/4 = L/2 after
    # the holder's last renewal (a stop is seen by another within its next try, L/8).
    timing = LeaseTiming(LEASE_S)
    handed_over = timing.term.total_seconds() - timing.renew_every_s
    assert watch.takeovers["SIGTERM"] < handed_over, watch.takeovers
    ok = sum(1 for r in runs if r["status"] == "success")
    posted_twice = sum(
        1 for uid in duplicates.update_ids
        if sum(1 for a in telegram.webhook_log if a.update_id == uid and a.ok) >= 2
    )  # fmt: skip
    print(
        f"\nsoak: {len(commands)} commands -> {len(runs)} runs ({ok} success) in {elapsed:.1f} s"
        f" on {BOTS} processes; webhooks dropped {len(sim.webhooks.dropped)}, attempts"
        f" {len(sim.webhooks.attempts)}; telegram 429s {sum(telegram.flood_429s.values())};"
        f" balancer {sorted(balancer.sent.values())}; updates posted twice and answered"
        f" {posted_twice}/{len(duplicates.update_ids)}, handled again after a fault {again};"
        f" lease takeover after SIGKILL {watch.takeovers['SIGKILL']:.2f} s, after SIGTERM"
        f" {watch.takeovers['SIGTERM']:.2f} s (LEADER_LEASE_SECONDS={LEASE_S:g}); database"
        f" away {(outage[1] - outage[0]).total_seconds():.1f} s; uploads cut short by the SIGKILL"
        f" {len(in_doubt)} ({len(in_doubt - set(photos))} not in the chat); API runs"
        f" {len(api_runs)} ({sum(r['status'] == 'success' for r in api_runs)} success), POSTs"
        f" failed and sent again {sum(r.failed_posts for r in api.runs)}, event streams"
        f" reconnected {sum(r.reconnects for r in api.runs)}, callbacks"
        f" {sum(len(a) for a in callbacks.arrivals.values())}; phases {PHASES}"
    )


async def _restart(bot: BotProcess) -> None:
    await bot.start()
    await bot.wait_ready()


async def _api_views_and_outputs(api: ApiClients) -> dict[int, dict[str, Any]]:
    """Each API run as `GET /api/v1/runs/{id}` shows it now, by run number; every output it
    lists is fetched (from whichever instance the balancer picks)."""
    views: dict[int, dict[str, Any]] = {}
    for run in api.runs:
        view = None
        for _ in range(100):  # until an instance answers (they are all up: at once)
            view = await api.view(run)
            if view is not None:
                break
            await asyncio.sleep(RETRY_S)
        assert view is not None, f"no instance shows API run {run.number}"
        for output in view["outputs"]:
            assert await api.output(run, output["url"]), (run.number, output)
        views[run.number] = view
    return views


def _assert_api_runs_once(
    api: ApiClients,
    docs: list[dict[str, Any]],
    views: dict[int, dict[str, Any]],
    callbacks: Callbacks,
    faults: list[tuple[float, float]],
) -> None:
    """Each run asked of the API exists once, whichever instances its POSTs reached: every POST
    with its Idempotency-Key was answered with the same run (a repeat once the first was answered
    as a replay); it ended (failed only on the backend's faults), its result is recorded with
    its outputs, a client following it saw that end, and its callback came, signed, once: again
    only across a fault (its sender killed or stopped, or the database gone, before it could
    note the callback as sent: README "Callbacks", a receiver drops the repeat by its event)."""
    by_id = {str(doc["_id"]): doc for doc in docs}
    assert len(docs) == len(api.runs) == 3 * API_BATCH, (len(docs), len(api.runs))
    for run in api.runs:
        assert {accepted[0] for accepted in run.accepted} == {run.id}, run.accepted
        assert len(run.accepted) == (1 if run.retry == "once" else 2), run.accepted
        if run.retry == "after":
            assert run.accepted[1][2], f"the repeat of API run {run.number} was not a replay"
        doc = by_id[run.id]
        assert doc["status"] in ("success", "failed"), (run.number, doc["status"])
        assert doc["delivery"] == "delivered", (run.number, doc["delivery"])
        view = views[run.number]
        assert (view["status"], view["final"]) == (doc["status"], True), (run.number, view)
        if doc["status"] == "success":
            assert len(view["outputs"]) == 1 and view["cost_usd"] is not None, view
        if run.follow != "none":
            assert run.followed is not None and run.followed["status"] == doc["status"]
        arrivals = callbacks.arrivals.get(run.number, [])
        if not run.callback:
            assert not arrivals, run.number
            continue
        assert arrivals, f"API run {run.number}: no callback"
        for arrival in arrivals:
            assert arrival.signed and arrival.event == f"run.{run.id}.result", arrival
            assert arrival.body["status"] == doc["status"], arrival.body
        first = arrivals[0].at
        across = [any(first <= end and again.at >= start for start, end in faults)
                  for again in arrivals[1:]]  # fmt: skip
        assert all(across), f"API run {run.number}: callback sent {len(arrivals)} times"


async def _wait_until_settled(
    runs: Any,
    commands: dict[int, tuple[int, int]],
    api_runs: int,
    telegram: FakeTelegram,
    bots: list[BotProcess],
) -> None:
    """Every command (and each run asked of the API) has its run, every run is delivered (or
    given up on) and every credit hold settled; else why not."""

    async def all_settled() -> bool:
        try:
            n = await runs.count_documents({})
            settled = await runs.count_documents({"delivery": {"$in": ["delivered", "abandoned"]}})
            holding = await runs.database.accounts.count_documents({"reserved": {"$ne": 0}})
        except Exception:
            return False
        return n >= len(commands) + api_runs and settled == n and holding == 0

    try:
        await eventually(all_settled, within=120, every=0.5)
    except TimeoutError:
        made = await runs.find({}).to_list()
        stuck = await runs.find({"delivery": {"$nin": ["delivered", "abandoned"]}}).to_list()
        raise AssertionError(
            f"{len(stuck)} runs never settled: "
            + "; ".join(_explain(r, -1, telegram, bots) for r in stuck[:5])
            + "; "
            + "; ".join(_explain_lost(commands, made, telegram))
        ) from None


async def _no_upload_under_way(db: Any) -> bool:
    found = await db.runs.find_one({"delivery": "claimed", "delivery_parts.photos-0": "sending"})
    return found is None


async def _sends_in_doubt(db: Any, telegram: FakeTelegram) -> set[str]:
    """Runs whose delivery was under way with a part marked `sending` and not in the chat: at
    the moment its process was killed, an upload whose outcome nobody can know. Such a part
    is never sent again (at most once, README "What exactly once means")."""
    shown = _photos_per_run(telegram)
    return {
        str(doc["_id"])
        async for doc in db.runs.find({"delivery": "claimed"}, {"delivery_parts": 1})
        if "sending" in (doc.get("delivery_parts") or {}).values() and not shown.get(doc["_id"])
    }


def _assert_in_order_per_chat(runs: list[dict[str, Any]]) -> None:
    """Each chat's runs were recorded in the order its commands were sent."""
    by_chat: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_chat.setdefault(run["chat"]["chat_id"], []).append(run)
    for chat, made in by_chat.items():
        made.sort(key=lambda r: r["created_at"])
        ids = [int(r["chat"]["message_id"]) for r in made]
        assert ids == sorted(ids), (chat, ids)


def _assert_each_update_handled_once(
    updates: list[dict[str, Any]], sent: int, gone: dict[str, str], outage: list[datetime]
) -> int:
    """Every update is recorded and done; one was claimed again only when its first handler
    was killed or stopped, or the database went away while it was handled. Returns how many
    were handled again."""
    assert len(updates) == sent
    assert {u["state"] for u in updates} == {"done"}
    # Claimed while the database went away, or a little before (still being handled then).
    down, back = outage[0] - timedelta(seconds=10), outage[1] + timedelta(seconds=LEASE_S)
    again = [u for u in updates if len(u["owners"]) > 1]
    for update in again:
        earlier = update["owners"][:-1]
        faulted = set(earlier) <= set(gone.values()) or down <= update["received_at"] <= back
        assert faulted, (update["_id"], update["owners"], update["received_at"], gone, outage)
    return len(again)


def _assert_settled_exactly(runs: list[dict[str, Any]], accounts: list[dict[str, Any]]) -> None:
    """Every user's balance is what they started with less the charge of each of their runs,
    nothing is still held, and no slot is left taken."""
    charged: dict[str, int] = {}
    for doc in runs:
        run = document_to_run(doc)
        charged[run.chat.user_key] = charged.get(run.chat.user_key, 0) + charge_for(run)
    assert len(accounts) == CHATS + API_KEYS
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
    times = {k: f"{run[k]:%T.%f}" for k in ("ended_at", "delivered_at") if run.get(k)}
    return (
        f"run {run['_id']}: {shown} photos; {state}; {times}; faults {EVENTS}; calls {calls};"
        f" logs {logs[:10]}"
    )
