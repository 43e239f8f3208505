"""Polling on time: the gaps between polls of each run against POLL_INTERVAL_SECONDS.

Run: .venv/bin/python -m bench.poll_bench [--runs 20] [--seconds 60] [--interval 5]

No public URL, so every run is followed by polling alone, as `comfybot run` does it: the real
scheduler on real time, the whole engine on the embedded database, the ComfyDeploy simulator as
the backend (manual mode: runs stay running, so each is polled for the whole bench). Each
`get_run` the bot makes is timed where the backend is called; the figures are the gaps between
consecutive polls of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.comfydeploy import ComfyDeployBackend, ComfyDeployClient
from adapters.mongo.embedded import MEMORY, EmbeddedMongo
from core.clock import SystemClock
from core.models import ChatRef, RunEvent
from core.ports import RunAddress
from tests.e2e.harness import world


class TimedBackend(ComfyDeployBackend):
    """The simulator's ComfyDeploy backend, noting when each run is polled."""

    polls: defaultdict[str, list[float]] = defaultdict(list)

    async def get_run(self, address: RunAddress) -> RunEvent:
        self.polls[address.backend_run_id].append(time.monotonic())
        return await super().get_run(address)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def bench(runs: int, seconds: float, interval: float) -> dict[str, Any]:
    server = EmbeddedMongo(MEMORY)
    uri = await server.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            async with world(
                uri,
                Path(folder),
                webhooks=False,
                poll_interval_seconds=interval,
                run_timeout_seconds=3600,
            ) as w:
                client = ComfyDeployClient(w.sim.base_url, "sim-key", timeout_s=30)
                backend = TimedBackend(client)
                async with w.engine(
                    http=False,
                    backends=[backend],
                    clock=SystemClock(),  # type: ignore[arg-type]
                ) as bot:
                    for n in range(runs):
                        who = ChatRef(platform="console", chat_id=str(n), user_id=str(n))
                        await bot.say(f"/txt2img tide {n} width=32 height=32", who)
                    check_every = next(
                        job.every_s
                        for job in bot.container.jobs()
                        if job.name == "poll quiet runs"
                    )
                    bot.container.start_scheduler()  # stopped with the engine
                    await asyncio.sleep(seconds)
    finally:
        await server.stop()
    gaps = [b - a for times in TimedBackend.polls.values() for a, b in itertools.pairwise(times)]
    return {
        "runs": runs,
        "interval_s": interval,
        "check_every_s": round(check_every, 3),
        "gaps": len(gaps),
        "gap_mean_s": round(statistics.fmean(gaps), 3),
        "gap_p5_s": round(percentile(gaps, 0.05), 3),
        "gap_p50_s": round(statistics.median(gaps), 3),
        "gap_p95_s": round(percentile(gaps, 0.95), 3),
        "gap_max_s": round(max(gaps), 3),
        "mean_over_interval": round(statistics.fmean(gaps) / interval, 3),
        "gaps_within_10_percent": round(
            sum(1 for g in gaps if abs(g - interval) <= interval / 10) / len(gaps), 3
        ),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--interval", type=float, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()
    result = asyncio.run(bench(args.runs, args.seconds, args.interval))
    result["load_average_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    result["machine"] = f"{platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}"
    result["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(json.dumps(result, indent=2))
