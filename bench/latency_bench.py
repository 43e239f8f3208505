"""From a run's end at the backend to its photo at the Bot API, and the bot's memory per run.

Run: .venv/bin/python -m bench.latency_bench [--runs 1000] [--rate 100] [--floor-runs 300]

The bot is `comfybot run` as a process, as in production: the embedded database on disk in its
DATA_DIR, webhooks from the ComfyDeploy simulator, Telegram through the fake Bot API (both in
this process, the "outside world"). Each of `--runs` chats (one user each) sends one
`/txt2img`; once every run is at the backend and its status message is up, the runs are moved
through their steps (queued, started, five progress steps, the end) at `--rate` webhooks a
second in all, `--interleave` runs at a time. Latency: from the simulator sending a run's `success`
webhook to the fake receiving that chat's sendPhoto (the bot GETs the run, records its end,
settles its credits, downloads the image, posts it). `chat_pace_wait`: how long a photo could
not go for its chat's pace (a second after that chat's previous request), and
`over_chat_pace` the latency less that.

The floor: `bench.push_bot`, a bot without a database that, on the `success` webhook, GETs the
run, downloads the image and sends it with python-telegram-bot; its runs are queued on the same
simulator and driven the same way, in the same bench, against the same fake.

Knobs: `BENCH_SET_<SETTING>=value` gives the bot a setting (e.g. `BENCH_SET_SWEEP_SECONDS=600`),
`BENCH_LOG=path` keeps the processes' logs, `BENCH_PROFILE=path` runs the bot under cProfile,
`BENCH_BOT_ROOT=dir` runs the bot from another checkout (a before/after on the same bench).

Memory: the bot process's RSS (and its embedded database server's) after a warm-up, then with
every run in flight (submitted, status message shown), divided by the number of runs. The
commands come 25 a second, under Telegram's 30 messages a second, so the figure is what runs in
flight hold, not a queue of status messages waiting to be sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from adapters.comfydeploy import ComfyDeployClient
from adapters.simulator import SimulatorServer
from adapters.simulator.catalog import TXT2IMG_DEPLOYMENT_ID
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_calls import Call
from tests.fakes.telegram_objects import JsonDict

ROOT = Path(__file__).resolve().parents[1]
FIRST_CHAT = 100_000
PROFILE = os.environ.get("BENCH_PROFILE", "")
"""A path: the bot runs under cProfile and writes its profile there (slower: not for figures)."""
FLOOR_CHAT = 900_000


class TimedTelegram(FakeTelegram):
    """Notes when each chat's first photo arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.photo_at: dict[int, float] = {}

    def _m_sendphoto(self, call: Call) -> JsonDict:
        self.photo_at.setdefault(int(call.params["chat_id"]), time.monotonic())
        return super()._m_sendphoto(call)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def server_pid(bot_pid: int) -> int | None:
    """The embedded database server: the largest process under the bot (its keeper is tiny)."""
    pids = descendants(bot_pid)
    return max(pids, key=rss_kb) if pids else None


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def summary(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p90_ms": round(percentile(ms, 0.90), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
    }


async def drive(
    sim: SimulatorServer,
    runs: list[tuple[str, int]],
    rate: float,
    ended: dict[int, float],
    interleave: int,
    acked: dict[int, float] | None = None,
) -> None:
    """Every run through its steps, `rate` steps a second in all, `interleave` runs at a time;
    the time each `success` step starts is noted for its chat."""
    loop = asyncio.get_running_loop()
    acked = {} if acked is None else acked
    tick = 1 / rate
    next_at = loop.time()
    pending: set[asyncio.Task[str]] = set()
    sent: dict[str, int] = {}
    last: dict[str, asyncio.Task[str]] = {}
    for start in range(0, len(runs), interleave):
        group = runs[start : start + interleave]
        while group:
            for rid, chat in list(group):
                plan = sim.run(rid).plan
                step = sent.setdefault(rid, sim.run(rid).next_step)
                if step >= len(plan):
                    group.remove((rid, chat))
                    continue
                sent[rid] = step + 1
                next_at += tick
                wait = next_at - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                previous = last.get(rid)
                if previous is not None and not previous.done():
                    await previous  # a step (rendering the image) is not over before the next
                task = last[rid] = asyncio.create_task(sim.advance(rid))
                if plan[step].status == "success":
                    ended[chat] = time.monotonic()
                    task.add_done_callback(lambda _, c=chat: acked.setdefault(c, time.monotonic()))
                pending.add(task)
                task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)


async def wait_until(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


def log_file() -> Any:
    """`BENCH_LOG=path` keeps the processes' logs there."""
    log = os.environ.get("BENCH_LOG")
    return Path(log).open("ab") if log else contextlib.nullcontext()


async def start_process(args: list[str], env: dict[str, str], cwd: Path) -> Any:
    with log_file() as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            cwd=cwd,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=out if out is not None else asyncio.subprocess.DEVNULL,
        )


async def stop_process(process: Any) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 60)


async def healthy(port: int) -> bool:
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def bot_phase(
    sim: SimulatorServer, fake: TimedTelegram, data: Path, runs: int, rate: float, interleave: int
) -> dict[str, Any]:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COMFYDEPLOY_", "TELEGRAM_", "DISCORD_", "MONGODB_"))
    }
    env.update(
        PYTHONPATH=os.environ.get("BENCH_BOT_ROOT", str(ROOT)),
        COMFYDEPLOY_API_URL=sim.base_url,
        COMFYDEPLOY_API_KEY="sim-key",
        DATA_DIR=str(data),
        HTTP_PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_BASE_URL=fake.base_url,
        LOG_LEVEL="WARNING",
        MAX_RUNNING_PER_DEPLOYMENT="0",
    )
    env.update({k[10:]: v for k, v in os.environ.items() if k.startswith("BENCH_SET_")})
    command = ["-m", "bot", "run"]
    if PROFILE:
        command = ["-m", "cProfile", "-o", PROFILE, *command]
    bot = await start_process(command, env, data)
    try:
        for _ in range(600):
            if await healthy(port) and fake.sent("getUpdates"):
                break
            await asyncio.sleep(0.1)
        warm = 20
        await submit(fake, sim, range(FIRST_CHAT - warm, FIRST_CHAT), within=120)
        await drive(sim, sim_runs(sim, FIRST_CHAT - warm, FIRST_CHAT), rate, {}, interleave)
        await wait_until(lambda: len(fake.photo_at) >= warm, 60, "warm-up photos")
        await asyncio.sleep(2)
        server = server_pid(bot.pid)
        bot_before, db_before = rss_kb(bot.pid), rss_kb(server) if server else 0

        await submit(fake, sim, range(FIRST_CHAT, FIRST_CHAT + runs), within=600)
        await asyncio.sleep(2)
        bot_inflight, db_inflight = rss_kb(bot.pid), rss_kb(server) if server else 0

        ended: dict[int, float] = {}
        acked: dict[int, float] = {}
        chats = set(range(FIRST_CHAT, FIRST_CHAT + runs))
        calls_before = len(fake.calls)
        driving = time.monotonic()
        mine = sim_runs(sim, FIRST_CHAT, FIRST_CHAT + runs)
        await drive(sim, mine, rate, ended, interleave, acked)
        driven_s = time.monotonic() - driving
        await wait_until(lambda: chats <= set(fake.photo_at), 120, "every photo")
        latencies = [fake.photo_at[chat] - ended[chat] for chat in chats]
        webhook = [acked[chat] - ended[chat] for chat in chats]
        paced = pace_waits(fake, ended, chats)
        methods: dict[str, int] = {}
        for call in fake.calls[calls_before:]:
            key = f"{call.method}{'' if call.ok else ' refused'}"
            methods[key] = methods.get(key, 0) + 1
        bot_after = rss_kb(bot.pid)
    finally:
        await stop_process(bot)
    return {
        "latency": summary(latencies),
        "success_webhook_answered": summary(webhook),
        "chat_pace_wait": summary(paced),
        "over_chat_pace": summary([t - wait for t, wait in zip(latencies, paced, strict=True)]),
        "driven_s": round(driven_s, 1),
        "telegram_calls": methods,
        "memory": {
            "runs_in_flight": runs,
            "bot_rss_kb_before": bot_before,
            "bot_rss_kb_in_flight": bot_inflight,
            "bot_rss_kb_after_all_delivered": bot_after,
            "bot_bytes_per_run": round((bot_inflight - bot_before) * 1024 / runs),
            "db_rss_kb_before": db_before,
            "db_rss_kb_in_flight": db_inflight,
            "db_bytes_per_run": round((db_inflight - db_before) * 1024 / runs),
        },
    }


def pace_waits(fake: TimedTelegram, ended: dict[int, float], chats: set[int]) -> list[float]:
    """How long each chat's photo could not go for Telegram's pace (one message a second in a
    chat): from the run's end to a second after the chat's previous request (a progress edit),
    0 when that was longer ago. In the order of `chats`, as the latencies."""
    last: dict[int, float] = {}
    for call in fake.calls:
        chat = call.chat_id
        if not isinstance(chat, int) or chat not in chats:
            continue
        if call.method.lower() == "sendphoto":
            continue
        if call.at < fake.photo_at.get(chat, float("inf")):
            last[chat] = max(last.get(chat, 0.0), call.at)
    return [max(0.0, last.get(chat, 0.0) + 1.0 - ended[chat]) for chat in chats]


def sim_runs(sim: SimulatorServer, first: int, end: int) -> list[tuple[str, int]]:
    """(simulator run id, chat) of the runs the chats `first` to `end` started, in chat order."""
    found = {int(str(r.inputs.get("prompt", "")).split()[-1]): r.id for r in sim.runs.all()}
    return [(found[chat], chat) for chat in range(first, end) if chat in found]


async def submit(
    fake: TimedTelegram, sim: SimulatorServer, chats: range, within: float, rate: float = 25
) -> None:
    """One command per chat, `rate` a second (below Telegram's 30 messages a second, so no
    status message waits); back once every run is at the backend with its status message."""
    before = len(fake.sent("sendMessage"))
    for chat in chats:
        fake.send_text(chat, chat, f"/txt2img bench {chat} width=32 height=32")
        await asyncio.sleep(1 / rate)
    await wait_until(
        lambda: (
            len(sim_runs(sim, chats.start, chats.stop)) == len(chats)
            and len(fake.sent("sendMessage")) - before >= len(chats)
        ),
        within,
        "runs submitted",
    )


async def floor_phase(
    sim: SimulatorServer, fake: TimedTelegram, data: Path, runs: int, rate: float, interleave: int
) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["-m", "bench.push_bot", "--port", str(port), "--backend", sim.base_url]
    args += ["--telegram", fake.base_url, "--token", fake.token]
    push = await start_process(args, env, data)
    try:
        assert push.stdout is not None
        await asyncio.wait_for(push.stdout.readline(), 60)
        chats = list(range(FLOOR_CHAT, FLOOR_CHAT + runs))
        async with ComfyDeployClient(sim.base_url, "sim-key", timeout_s=30) as client:
            ids = [
                await client.submit(
                    TXT2IMG_DEPLOYMENT_ID,
                    {"prompt": f"floor {chat}", "width": 32, "height": 32},
                    f"http://127.0.0.1:{port}/hook?chat={chat}",
                )
                for chat in chats
            ]
        ended: dict[int, float] = {}
        await drive(sim, list(zip(ids, chats, strict=True)), rate, ended, interleave)
        await wait_until(lambda: set(chats) <= set(fake.photo_at), 120, "floor photos")
    finally:
        await stop_process(push)
    return summary([fake.photo_at[chat] - ended[chat] for chat in chats])


async def bench(runs: int, rate: float, floor_runs: int, interleave: int) -> dict[str, Any]:
    sim = SimulatorServer(mode="manual", webhook_backoff=(0.0, 0.0))
    async with sim, TimedTelegram() as fake:
        with tempfile.TemporaryDirectory() as folder:
            floor = await floor_phase(sim, fake, Path(folder), floor_runs, rate, interleave)
            measured = await bot_phase(sim, fake, Path(folder), runs, rate, interleave)
    return {
        "rate_webhooks_per_s": rate,
        "runs_interleaved": interleave,
        "floor_push_bot": floor,
        "comfybot": measured["latency"],
        "comfybot_success_webhook_answered": measured["success_webhook_answered"],
        "comfybot_chat_pace_wait": measured["chat_pace_wait"],
        "comfybot_over_chat_pace": measured["over_chat_pace"],
        "driven_s": measured["driven_s"],
        "telegram_calls": measured["telegram_calls"],
        "p50_over_floor": round(measured["latency"]["p50_ms"] / floor["p50_ms"], 2),
        "memory": measured["memory"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--floor-runs", type=int, default=300)
    parser.add_argument("--interleave", type=int, default=200)
    args = parser.parse_args()
    load_before = os.getloadavg()
    result = asyncio.run(bench(args.runs, args.rate, args.floor_runs, args.interleave))
    result["load_average_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    result["machine"] = f"{platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}"
    result["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(json.dumps(result, indent=2))
