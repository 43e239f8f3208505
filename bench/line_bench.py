"""What API clients polling their waiting runs cost the database: `GET /api/v1/runs/{id}` of runs
still in our queue, every poller once a second.

Run: .venv/bin/python -m bench.line_bench [--keys 10] [--waiting 5] [--rounds 10]

The bot's real HTTP server with the API mounted (bench/api_bench.py's engine), the embedded
database on disk; each key has its five running slots full and `--waiting` more runs waiting,
and every waiting run has a poller: each round all of them GET at once, then wait for the rest
of the second. Two ways of finding a run's place, on the same database:

- `whole_line`: every GET reads the line itself (the queue, its users' running counts and the
  running total: what each GET did before core/line_snapshot.py);
- `shared_line`: as the bot does now, one read of the line a second serves every GET.

Database commands are counted with PyMongo's command monitoring; "queue reads" are the `find`s
on the runs through the `waiting` index.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from pymongo import monitoring

from adapters.mongo.database import RUNS, WAITING_INDEX
from adapters.mongo.embedded import EmbeddedMongo
from bench.api_bench import engine
from bench.credits_bench import counting
from bench.host import host_facts
from bench.webhook_bench import WORKFLOW
from bot.apikeys import create_key
from bot.container import Container
from core.line_snapshot import Place
from core.models import Run

RUNNING_PER_KEY = 5
"""bench/api_bench.py's MAX_RUNNING_PER_USER: the first five runs of each key go at once."""


class QueueReads(monitoring.CommandListener):
    def __init__(self) -> None:
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command = event.command
        if command.get("find") == RUNS and command.get("hint") == WAITING_INDEX:
            self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


READS = QueueReads()
monitoring.register(READS)


def whole_line(container: Container) -> None:
    """Each GET reads the line itself, as before (`FairQueue.line` for the run's user)."""
    queue = container.queue

    async def place_of(run: Run) -> Place | None:
        places = await queue.line(run.chat.user_key)
        return next((p for p in places if p.run.id == run.id), None)

    queue.place_of = place_of  # type: ignore[method-assign]


async def poll(
    http: aiohttp.ClientSession, base: str, waiting: dict[str, str], rounds: int
) -> dict[str, float]:
    times: list[float] = []
    reads_before = READS.count

    async def get(run_id: str) -> None:
        headers = {"Authorization": f"Bearer {waiting[run_id]}"}
        start = time.perf_counter()
        async with http.get(f"{base}/api/v1/runs/{run_id}", headers=headers) as response:
            view = await response.json()
        times.append(time.perf_counter() - start)
        assert response.status == 200 and view["queue_position"] is not None, view

    with counting() as commands:
        for _ in range(rounds):
            began = time.perf_counter()
            await asyncio.gather(*(get(run_id) for run_id in waiting))
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - began)))
    ordered = sorted(times)
    return {
        "get_p50_ms": round(statistics.median(ordered) * 1000, 2),
        "get_p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 2),
        "db_commands_per_get": round(commands[0] / len(times), 2),
        "queue_reads_per_round": round((READS.count - reads_before) / rounds, 2),
    }


async def one_way(folder: Path, uri: str, way: str, keys: int, per_key: int, rounds: int) -> Any:
    container, api, base = await engine(uri, folder, whole_line if way == "whole_line" else None)
    try:
        url = f"{base}/api/v1/workflows/{WORKFLOW.name}/runs"
        waiting: dict[str, str] = {}
        async with aiohttp.ClientSession() as http:
            for n in range(keys):
                token = (await create_key(container, f"{way}-{n}", "100000")).token
                for index in range(RUNNING_PER_KEY + per_key):
                    headers = {"Authorization": f"Bearer {token}"}
                    body = {"prompt": f"fox {index}"}
                    async with http.post(url, json=body, headers=headers) as response:
                        answer = await response.json()
                    assert response.status == 202, answer
                    if index >= RUNNING_PER_KEY:
                        waiting[answer["id"]] = token
            return await poll(http, base, waiting, rounds)
    finally:
        await api.stop()
        await container.close()


async def main(keys: int, per_key: int, rounds: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="comfybot-line-bench-"))
    server = EmbeddedMongo(folder / "mongo")  # on disk, as the bot runs it
    uri = await server.start()
    result: dict[str, Any] = {"waiting_runs": keys * per_key, "rounds": rounds}
    try:
        for way in ("whole_line", "shared_line"):
            result[way] = await one_way(folder, uri, way, keys, per_key, rounds)
    finally:
        await server.stop()
    result.update(host_facts())
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--waiting", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.keys, args.waiting, args.rounds)), indent=2))
