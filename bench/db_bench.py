"""Embedded database speed from a fresh folder to N writes, per window, with/without retryWrites.

Run: .venv/bin/python -m bench.db_bench [--writes 50000] [--window 5000] [--modes retry,noretry]

Each mode gets its own fresh server on a fresh on-disk folder (as the bot runs it). The loop
interleaves, per step, one `insert_one` of a run-sized document, four conditional `update_one`s
on documents inserted earlier (the run store's "only move forward" filter on a monotonic
`stage`), and one `find_one` by `_id`. Every call is timed on its own; a window closes after
`--window` writes (inserts + updates) and prints each operation's rate in it and the load average.

`retry` forces `retryWrites=true` in the client (PyMongo's default, what a MongoDB URI gets);
`noretry` forces `retryWrites=false` (what the bot now uses for the embedded server).

The host is shared, and its speed varies with what else runs on it; `find_one` by `_id` does
not depend on how many writes came before, so `update/find` (the two rates in the same window)
shows the cost of an update with the host's speed divided out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from adapters.mongo.embedded import EmbeddedMongo

UPDATES_PER_STEP = 4
MODES = {"retry": True, "noretry": False}


@dataclass
class Window:
    writes: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"insert": 0.0, "update": 0.0})
    counts: dict[str, int] = field(default_factory=lambda: {"insert": 0, "update": 0})
    find_seconds: float = 0.0
    finds: int = 0
    load: float = 0.0

    def rate(self, op: str) -> float:
        if op == "find":
            return self.finds / self.find_seconds if self.find_seconds else 0.0
        return self.counts[op] / self.seconds[op] if self.seconds[op] else 0.0


def run_document(index: int) -> dict[str, Any]:
    """Shaped like a stored run: a few strings, dates, a small nested chat reference."""
    now = datetime.now(UTC)
    return {
        "_id": f"r{index:08d}{uuid.uuid4().hex[:6]}",
        "workflow": "txt2img",
        "deployment_id": "dep-1",
        "inputs": {"prompt": "a red fox in the snow", "width": 512, "height": 512},
        "chat": {"platform": "telegram", "chat_id": str(index % 50), "user_id": "7"},
        "status": "queued",
        "stage": 0,
        "created_at": now,
        "updated_at": now,
        "gpu": "A10G",
        "rate_usd_per_s": 0.000337,
    }


async def measure(uri: str, retry_writes: bool, total: int, window_size: int) -> list[Window]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, retryWrites=retry_writes)
    coll = client["bench"]["runs"]
    ids: list[str] = []
    windows: list[Window] = []
    current = Window()
    stages: dict[str, int] = {}
    index = 0
    clock = time.perf_counter
    try:
        await client["bench"].command("ping")
        while sum(w.writes for w in windows) + current.writes < total:
            doc = run_document(index)
            start = clock()
            await coll.insert_one(doc)
            current.seconds["insert"] += clock() - start
            current.counts["insert"] += 1
            current.writes += 1
            ids.append(doc["_id"])
            stages[doc["_id"]] = 0
            for k in range(UPDATES_PER_STEP):
                target = ids[(index * 7 + k * 13) % len(ids)]
                stage = stages[target] + 1
                start = clock()
                result = await coll.update_one(
                    {"_id": target, "stage": {"$lt": stage}},
                    {
                        "$set": {
                            "stage": stage,
                            "status": "running",
                            "updated_at": datetime.now(UTC),
                        }
                    },
                )
                current.seconds["update"] += clock() - start
                current.counts["update"] += 1
                current.writes += 1
                assert result.modified_count == 1
                stages[target] = stage
            start = clock()
            found = await coll.find_one({"_id": ids[(index * 31) % len(ids)]})
            current.find_seconds += clock() - start
            current.finds += 1
            assert found is not None
            index += 1
            if current.writes >= window_size:
                windows.append(current)
                report(sum(w.writes for w in windows), current)
                current = Window()
    finally:
        await client.close()
    if current.writes:
        windows.append(current)
    return windows


def report(upto: int, window: Window) -> None:
    load = window.load = round(os.getloadavg()[0], 2)
    print(
        f"  to {upto:>6} writes: update_one {window.rate('update'):7.0f}/s  "
        f"insert_one {window.rate('insert'):7.0f}/s  find_one {window.rate('find'):7.0f}/s  "
        f"update/find {window.rate('update') / window.rate('find'):4.2f}  load {load:4.2f}",
        flush=True,
    )


async def run_mode(name: str, total: int, window_size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="db_bench_") as folder:
        server = EmbeddedMongo(Path(folder) / "mongo")
        uri = await server.start()
        print(f"{name} (retryWrites={str(MODES[name]).lower()}), fresh folder {folder}")
        try:
            windows = await measure(uri, MODES[name], total, window_size)
        finally:
            await server.stop()
    updates = [w.rate("update") for w in windows if w.counts["update"]]
    relative = [w.rate("update") / w.rate("find") for w in windows if w.finds]
    return {
        "mode": name,
        "update_per_window": [round(r) for r in updates],
        "insert_per_window": [round(w.rate("insert")) for w in windows],
        "find_per_window": [round(w.rate("find")) for w in windows],
        "update_over_find_per_window": [
            round(w.rate("update") / w.rate("find"), 2) for w in windows if w.finds
        ],
        "load_per_window": [w.load for w in windows],
        "update_last_over_first": round(updates[-1] / updates[0], 2),
        "update_min_over_max": round(min(updates) / max(updates), 2),
        "update_over_find_last_over_first": round(relative[-1] / relative[0], 2),
        "update_over_find_min_over_max": round(min(relative) / max(relative), 2),
    }


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=50_000)
    parser.add_argument("--window", type=int, default=5_000)
    parser.add_argument("--modes", default="noretry,retry", help="comma-separated: retry,noretry")
    parser.add_argument("--json", type=Path, help="also write the summary as JSON here")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes: {sorted(unknown)}")
    print(
        f"machine: {os.cpu_count()} cpu, {platform.machine()}, Python "
        f"{platform.python_version()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        flush=True,
    )
    results = [await run_mode(mode, args.writes, args.window) for mode in modes]
    for result in results:
        print(json.dumps(result))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
