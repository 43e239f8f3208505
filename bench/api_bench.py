"""What the HTTP run API adds to a run: the latency of an accepted `POST /workflows/{name}/runs`.

Run: .venv/bin/python -m bench.api_bench [--requests 500] [--keys 20]

The bot's real HTTP server with the API mounted, an aiohttp client on the same machine sending
one request at a time (round the keys), the whole engine behind it (key check, ban check, rate
limit window, validation, quote, the credit hold, the run recorded, its fair-queue pass and its
submit), the embedded database on disk as the bot runs it, and a backend that answers at once
(bench/webhook_bench.py's InstantBackend), so the figures are the bot's and its database's own.
Each run is ended right after its 202 and its ledger entries copied out (not timed), so
accounts stay as small as in steady use.

Three kinds of request: without `Idempotency-Key`; with a fresh one (its claim is one more
insert); and a retry of one already used (answered from the stored run). Database commands per
request are counted with PyMongo's command monitoring.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from adapters.mongo.embedded import EmbeddedMongo
from bench.credits_bench import counting, empty_file
from bench.host import host_facts
from bench.webhook_bench import WORKFLOW, InstantBackend
from bot.apikeys import create_key
from bot.container import Container, build_container
from bot.platforms import api_platform
from bot.settings import Settings
from core.clock import SystemClock
from core.models import EventSource, RunEvent, RunStatus


async def engine(
    uri: str, data: Path, prepare: Callable[[Container], None] | None = None
) -> tuple[Container, Any, str]:
    """The bot with its API; `prepare` may change the container before the API is built."""
    settings = Settings.model_construct(
        **{
            **Settings().model_dump(),
            "mongodb_uri": SecretStr(uri),
            "mongodb_db": f"bench_{uuid.uuid4().hex[:8]}",
            "data_dir": data,
            "http_host": "127.0.0.1",
            "http_port": 0,
            "public_base_url": None,
            "catalog_file": empty_file(data),
            "routing_file": empty_file(data),
            "webhook_secret": SecretStr("bench-secret"),
            "new_user_credits": 1_000_000.0,
            "max_running_per_user": 5,
            "max_queued_per_user": 100,
            "max_running_per_deployment": 0,
            "rate_limit_per_user": 1_000_000,
        }
    )
    container = await build_container(settings, backends=[InstantBackend()], clock=SystemClock())
    if prepare is not None:
        prepare(container)
    api = api_platform(container)
    container.delivery.add_notifier(api.notifier)
    server = await container.start_http(api.routes())
    await container.start_engine()
    return container, api, server.base_url


async def end(container: Container, run_id: str) -> None:
    run = await container.runs_store.get(run_id)
    if run is None or run.backend_run_id is None:
        return
    event = RunEvent(
        backend_run_id=run.backend_run_id,
        status=RunStatus.SUCCESS,
        source=EventSource.WEBHOOK,
        ended_at=datetime.now(UTC),
    )
    await container.tracker.apply(run.id, event)
    await container.delivery.drain()  # its result recorded before the next request is timed
    await container.accounts.flush_ledger(500)  # as the bot does every SWEEP_SECONDS


Sent = tuple[str, str, dict[str, str]]
"""(token, Idempotency-Key, body) of a request accepted."""


def figures(kind: str, times: list[float], commands: int) -> dict[str, float]:
    ordered = sorted(times)
    return {
        f"{kind}_p50_ms": round(statistics.median(ordered) * 1000, 2),
        f"{kind}_p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 2),
        f"{kind}_db_commands": round(commands / len(times), 2),
    }


async def post(
    http: aiohttp.ClientSession, url: str, token: str, key: str | None, body: dict[str, str]
) -> tuple[float, int, dict[str, Any]]:
    """(seconds, database commands, answer) of one accepted request."""
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    with counting() as commands:
        start = time.perf_counter()
        async with http.post(url, json=body, headers=headers) as response:
            answer = await response.json()
            took = time.perf_counter() - start
    assert response.status == 202, answer
    return took, commands[0], answer


async def measure(
    container: Container,
    http: aiohttp.ClientSession,
    url: str,
    tokens: list[str],
    count: int,
    kind: str,
) -> tuple[dict[str, float], list[Sent]]:
    """`count` new runs (each with a fresh Idempotency-Key when `kind` is `fresh_key`)."""
    times: list[float] = []
    sent = 0
    accepted: list[Sent] = []
    for index in range(count):
        token = tokens[index % len(tokens)]
        key = uuid.uuid4().hex if kind == "fresh_key" else None
        body = {"prompt": f"a fox number {index}"}
        took, commands, answer = await post(http, url, token, key, body)
        times.append(took)
        sent += commands
        if key is not None:
            accepted.append((token, key, body))
        await end(container, answer["id"])
    return figures(kind, times, sent), accepted


async def replay(http: aiohttp.ClientSession, url: str, used: list[Sent]) -> dict[str, float]:
    """Retries of requests already accepted: the same key and body, the stored run back."""
    times: list[float] = []
    sent = 0
    for token, key, body in used:
        took, commands, _ = await post(http, url, token, key, body)
        times.append(took)
        sent += commands
    return figures("replay", times, sent)


async def main(count: int, keys: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="comfybot-api-bench-"))
    server = EmbeddedMongo(folder / "mongo")  # on disk, as the bot runs it
    uri = await server.start()
    result: dict[str, Any] = {"requests": count, "keys": keys}
    try:
        container, api, base = await engine(uri, folder)
        try:
            tokens = [
                (await create_key(container, f"bench-{n}", "100000")).token for n in range(keys)
            ]
            url = f"{base}/api/v1/workflows/{WORKFLOW.name}/runs"
            async with aiohttp.ClientSession() as http:
                await measure(container, http, url, tokens, 50, "warm_up")
                result.update((await measure(container, http, url, tokens, count, "no_key"))[0])
                fresh, used = await measure(container, http, url, tokens, count, "fresh_key")
                result.update(fresh)
                result.update(await replay(http, url, used))
            await container.delivery.drain()
        finally:
            await api.stop()
            await container.close()
    finally:
        await server.stop()
    result.update(host_facts())
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--keys", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.requests, args.keys)), indent=2))
