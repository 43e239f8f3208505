"""How long read-only CLI commands take to exit after their last line of output.

Run: .venv/bin/python -m bench.cli_exit_bench [--repeat 3]

Each command is a real `python -m bot` process, as an operator types it, with MONGODB_URI unset
(so the embedded database in DATA_DIR) and the ComfyDeploy simulator as the backend. Measured
per command: from its start to its last output line, and from that line to the process's exit.
Twice: with no bot running (the command starts its own embedded server), and while a
`comfybot run` holds the same DATA_DIR (the command uses that bot's server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from adapters.simulator import SimulatorServer

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (("runs", "--json"), ("catalog",), ("catalog", "--json"), ("doctor",))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def environment(simulator: SimulatorServer, data: Path, port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COMFYDEPLOY_", "TELEGRAM_", "DISCORD_", "MONGODB_"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        COMFYDEPLOY_API_URL=simulator.base_url,
        COMFYDEPLOY_API_KEY="sim-key",
        DATA_DIR=str(data),
        HTTP_PORT=str(port),
        LOG_LEVEL="WARNING",
    )
    return env


async def timed(args: tuple[str, ...], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(seconds to the last output line, seconds from it to the exit)."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    last_line = started
    while line := await process.stdout.readline():
        if line.strip():
            last_line = time.monotonic()
    await process.wait()
    exited = time.monotonic()
    if process.returncode not in (0, 1):  # doctor exits 1 when a check fails
        raise RuntimeError(f"{' '.join(args)} exited {process.returncode}")
    return last_line - started, exited - last_line


async def bot_running(env: dict[str, str], cwd: Path, port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("comfybot run did not answer /healthz")


async def measure(env: dict[str, str], cwd: Path, repeat: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for args in COMMANDS:
        samples = [await timed(args, env, cwd) for _ in range(repeat)]
        figures[" ".join(args)] = {
            "to_output_s": [round(s[0], 2) for s in samples],
            "output_to_exit_s": [round(s[1], 2) for s in samples],
            "output_to_exit_max_s": round(max(s[1] for s in samples), 2),
        }
    return figures


async def bench(repeat: int) -> dict[str, Any]:
    async with SimulatorServer() as simulator:
        with tempfile.TemporaryDirectory() as folder:
            data = Path(folder)
            port = free_port()
            env = environment(simulator, data, port)
            alone = await measure(env, data, repeat)
            await asyncio.sleep(3)  # the last command's server, left to stop under its keeper
            bot = await bot_running(env, data, port)
            try:
                beside = await measure(env, data, repeat)
            finally:
                bot.terminate()
                await bot.wait()
    exits = [
        s for figures in (alone, beside) for f in figures.values() for s in f["output_to_exit_s"]
    ]
    return {
        "no_bot_running": alone,
        "bot_running": beside,
        "output_to_exit_worst_s": max(exits),
        "output_to_exit_median_s": statistics.median(exits),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()
    result = asyncio.run(bench(args.repeat))
    result["load_average_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    result["machine"] = f"{platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}"
    result["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(json.dumps(result, indent=2))
