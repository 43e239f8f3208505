"""Lease takeover: how long the `sweeps` lease goes unheld when its holder dies or stops.

Run: .venv/bin/python -m bench.takeover_bench [--instances 3] [--repeats 5] [--leases 15,3]

N `comfybot run` processes (tests/e2e/fleet.py) share one embedded database (on disk, as the bot
runs it) and the ComfyDeploy simulator as their backend; nothing else runs, so the figures are
the lease's own timing (README "Deployment": a dead holder is replaced within
LEADER_LEASE_SECONDS, one that stops hands over in under a second). Each repetition finds the
holder in the `leases` collection, SIGKILLs it (or sends SIGTERM) and times until another live
process holds the lease, read every 20 ms; the process is then started again and waited for
(`GET /readyz`) before the next. For each LEADER_LEASE_SECONDS and signal: median and max.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.mongo.database import create_client
from adapters.mongo.embedded import EmbeddedMongo, free_port
from adapters.simulator import SimulatorServer
from bench.host import host_facts
from tests.e2e.fleet import BotProcess, base_env

LEASE = "sweeps"
READ_EVERY_S = 0.02


async def holder(leases: Any, bots: list[BotProcess]) -> BotProcess | None:
    """The live process whose unexpired grant the lease is, if any."""
    doc = await leases.find_one({"_id": LEASE})
    if doc is None or doc["until"].replace(tzinfo=UTC) <= datetime.now(UTC):
        return None
    return next((bot for bot in bots if bot.owns(doc.get("owner"))), None)


async def wait_holder(
    leases: Any, bots: list[BotProcess], within: float, other_than: BotProcess | None = None
) -> BotProcess:
    async with asyncio.timeout(within):
        while True:
            found = await holder(leases, bots)
            if found is not None and found is not other_than:
                return found
            await asyncio.sleep(READ_EVERY_S)


async def measure(
    instances: int, repeats: int, lease_s: float, folder: Path, sim: SimulatorServer
) -> dict[str, Any]:
    mongo = EmbeddedMongo(folder / f"db-{lease_s:g}", port=free_port())
    uri = await mongo.start()
    client = create_client(uri)
    database = f"takeover_{uuid.uuid4().hex[:8]}"
    leases = client[database].leases
    (folder / "empty.yaml").write_text("")
    bots = [
        BotProcess(
            f"bot{index}-{lease_s:g}",
            base_env(
                COMFYDEPLOY_API_URL=sim.base_url,
                COMFYDEPLOY_API_KEY="sim-key",
                MONGODB_URI=uri,
                MONGODB_DB=database,
                DATA_DIR=str(folder / f"bot{index}"),
                CATALOG_FILE=str(folder / "empty.yaml"),
                ROUTING_FILE=str(folder / "empty.yaml"),
                HTTP_PORT=str(free_port()),
                LEADER_LEASE_SECONDS=str(lease_s),
                LOG_LEVEL="INFO",
            ),
            folder,
        )
        for index in range(instances)
    ]
    times: dict[str, list[float]] = {"SIGKILL": [], "SIGTERM": []}
    try:
        await asyncio.gather(*(bot.start() for bot in bots))
        await asyncio.gather(*(bot.wait_ready() for bot in bots))
        for _ in range(repeats):
            for name, sig in (("SIGKILL", signal.SIGKILL), ("SIGTERM", signal.SIGTERM)):
                leader = await wait_holder(leases, bots, within=lease_s * 3)
                assert leader.process is not None
                since = time.monotonic()
                leader.process.send_signal(sig)
                await wait_holder(leases, bots, within=lease_s * 3, other_than=leader)
                times[name].append(time.monotonic() - since)
                assert await asyncio.wait_for(leader.process.wait(), 60) in (0, -signal.SIGKILL)
                await leader.start()
                await leader.wait_ready()
    finally:
        for bot in bots:
            await bot.ensure_gone()
        await client.close()
        await mongo.stop()
    return {
        "lease_s": lease_s,
        "instances": instances,
        "repeats": repeats,
        **{
            f"{name.lower()}_s": {
                "median": round(statistics.median(values), 2),
                "max": round(max(values), 2),
                "all": [round(v, 2) for v in values],
            }
            for name, values in times.items()
        },
    }


async def bench(instances: int, repeats: int, leases: list[float]) -> list[dict[str, Any]]:
    results = []
    async with SimulatorServer(mode="auto", step_delay=0.05) as sim:
        with tempfile.TemporaryDirectory() as folder:
            for lease_s in leases:
                facts = host_facts()
                result = await measure(instances, repeats, lease_s, Path(folder), sim)
                result.update(facts, load_average_after=host_facts()["load_average"])
                results.append(result)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--leases", default="15,3", help="LEADER_LEASE_SECONDS values, by commas")
    args = parser.parse_args()
    values = [float(part) for part in args.leases.split(",")]
    for line in asyncio.run(bench(args.instances, args.repeats, values)):
        print(json.dumps(line))
