"""Webhook hot path on the embedded database: latency, throughput, the raw update floor, memory.

Run: .venv/bin/python -m bench.webhook_bench [--runs N]

Everything is real but the backend: the bot's aiohttp server, the engine, PyMongo against an
embedded SecantusDB over a socket. The backend is an in-process stand-in (no network), so the
numbers are the bot's own cost per event, not ComfyDeploy's.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import gc
import json
import multiprocessing
import platform
import statistics
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from adapters.comfydeploy.webhook import ComfyDeployWebhook
from adapters.mongo.embedded import MEMORY, EmbeddedMongo
from bot.container import Container, build_container
from bot.settings import Settings
from core.clock import SystemClock
from core.delivery import DeliveryPolicy
from core.ingress import WebhookIngress
from core.models import (
    ChatRef,
    EventSource,
    ProgressView,
    Run,
    RunEvent,
    RunResult,
    RunStatus,
    Submission,
    UploadedFile,
)
from core.ports import Job, RunAddress
from core.workflow import Deployment, DeploymentRef, Discovery, InputSpec, InputType, Workflow

BACKEND = "comfydeploy"
WEBHOOK_PATH = f"/webhooks/{BACKEND}"

PROGRESS_EVENTS_PER_RUN = 10
"""ComfyDeploy sends a progress event per executed node; ten is a small workflow."""

WORKFLOW = Workflow(
    name="bench",
    command="bench",
    deployments=(DeploymentRef(backend=BACKEND, id="dep-1"),),
    inputs=(InputSpec(name="prompt", type=InputType.TEXT, required=True),),
)


class InstantBackend:
    """Answers at once; a finished run has no outputs, so delivery measures the bot alone. Its
    webhooks are ComfyDeploy's route, with the one GET per terminal webhook answered here."""

    name = BACKEND
    webhook_path = WEBHOOK_PATH

    def routes(self, ingress: WebhookIngress) -> list[Any]:
        return [aiohttp.web.post(WEBHOOK_PATH, ComfyDeployWebhook(ingress, self, BACKEND).handle)]

    async def discover(self) -> Discovery:
        found = Deployment(backend=BACKEND, id="dep-1", workflow_name="bench", gpu="A10G")
        return Discovery(workflows=(WORKFLOW,), deployments=(found,))

    async def refresh_prices(self) -> None:
        return None

    def usd_per_second(self, deployment: Deployment | None) -> float | None:
        return 0.000337

    async def submit(self, job: Job) -> str:
        return str(uuid.uuid4())

    async def locate(self, run_id: str, deployment_id: str) -> str | None:
        return None

    async def get_run(self, backend_run_id: str) -> RunEvent:
        now = datetime.now(UTC)
        return RunEvent(
            backend_run_id=backend_run_id,
            status=RunStatus.SUCCESS,
            source=EventSource.POLL,
            queued_at=now - timedelta(seconds=20),
            started_at=now - timedelta(seconds=10),
            ended_at=now,
        )

    async def cancel(self, address: RunAddress) -> None:
        return None

    async def upload(self, file: UploadedFile) -> str:
        return "http://127.0.0.1/none"

    output_hosts: tuple[str, ...] = ()

    async def download(self, url: str, target: Path, max_bytes: int) -> int:
        return 0

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


class TimingNotifier:
    platform = "bench"

    def __init__(self) -> None:
        self.delivered: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Future[float]] = {}

    async def show_progress(self, view: ProgressView) -> str | None:
        return "m1"

    async def post_result(self, result: RunResult, journal: object) -> RunResult | None:
        moment = time.perf_counter()
        waiter = self.waiters.pop(result.run.id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(moment)
        return None

    async def end_status(self, ending: RunResult) -> None:
        return None


async def seed_runs(container: Container, count: int) -> list[Run]:
    """In-flight runs as the run manager leaves them after submit: recorded, their status
    message posted, accepted by the backend."""
    now = datetime.now(UTC)
    runs = []
    for index in range(count):
        run = Run(
            id=f"b{index:07d}{uuid.uuid4().hex[:4]}",
            workflow="bench",
            deployment_id="dep-1",
            inputs={"prompt": "a fox"},
            chat=ChatRef(platform="bench", chat_id=f"c{index % 50}", user_id="u"),
            gpu="A10G",
            rate_usd_per_s=0.000337,
            created_at=now,
            updated_at=now,
            progress_message_id="m1",
        )
        await container.runs_store.insert(run)
        submission = Submission(
            backend_run_id=str(uuid.uuid4()),
            backend=BACKEND,
            deployment_id="dep-1",
            gpu="A10G",
            rate_usd_per_s=0.000337,
            submitted_at=now,
            next_poll_at=now + timedelta(hours=1),
        )
        await container.runs_store.mark_submitted(run.id, submission)
        runs.append(run.model_copy(update={"backend_run_id": submission.backend_run_id}))
    return runs


def body(run: Run, status: str, progress: float) -> bytes:
    return json.dumps(
        {
            "event_type": "run.updated",
            "status": status,
            "live_status": "Executing KSampler",
            "progress": progress,
            "run_id": run.backend_run_id,
            "outputs": [],
        }
    ).encode()


async def post(session: aiohttp.ClientSession, url: str, data: bytes) -> None:
    async with session.post(url, data=data, headers={"Content-Type": "application/json"}) as r:
        if r.status != 200:
            raise RuntimeError(f"webhook answered {r.status}: {await r.text()}")


def hook_url(container: Container, run: Run) -> str:
    assert container.http is not None
    token = container.signer.token(run.id)
    return f"{container.http.base_url}{WEBHOOK_PATH}?run={run.id}&token={token}"


async def latency(
    container: Container,
    notifier: TimingNotifier,
    session: aiohttp.ClientSession,
    runs: list[Run],
    rate: float,
) -> list[float]:
    """Webhooks at `rate`/s as runs really send them (three progress events, then the end),
    interleaved across runs; seconds from sending each end to its result at the notifier."""
    loop = asyncio.get_running_loop()
    results: list[float] = []
    schedule: list[tuple[Run, str, float]] = []
    for wave in range(0, len(runs), 10):
        group = runs[wave : wave + 10]
        for step in (0.25, 0.5, 0.75):
            schedule += [(run, "running", step) for run in group]
        schedule += [(run, "success", 1.0) for run in group]

    async def one(run: Run, status: str, progress: float) -> None:
        waiter: asyncio.Future[float] | None = None
        if status == "success":
            waiter = loop.create_future()
            notifier.waiters[run.id] = waiter
        start = time.perf_counter()
        await post(session, hook_url(container, run), body(run, status, progress))
        if waiter is not None:
            results.append(await asyncio.wait_for(waiter, 60) - start)

    tasks = []
    begin = time.perf_counter()
    for index, (run, status, progress) in enumerate(schedule):
        delay = begin + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(run, status, progress)))
    await asyncio.gather(*tasks)
    return results


async def throughput(container: Container, runs: list[Run], concurrency: int) -> float:
    """Progress webhooks as fast as the bot takes them, sent from another process (as
    ComfyDeploy's are), so the sender's own work is not charged to the bot; events/s."""
    requests = [
        (hook_url(container, run), body(run, "running", step / PROGRESS_EVENTS_PER_RUN))
        for step in range(1, PROGRESS_EVENTS_PER_RUN + 1)
        for run in runs
    ]
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        elapsed = await loop.run_in_executor(pool, send_all, requests, concurrency)
    await container.delivery.drain()
    return len(requests) / elapsed


def send_all(requests: list[tuple[str, bytes]], concurrency: int) -> float:
    """In the load process: POST every request, `concurrency` at a time; seconds taken."""

    async def run() -> float:
        queue = list(reversed(requests))
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as session:

            async def worker() -> None:
                while queue:
                    url, data = queue.pop()
                    await post(session, url, data)

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.perf_counter() - start

    return asyncio.run(run())


async def raw_update_rate(container: Container, count: int, document: dict[str, Any]) -> float:
    """Sequential conditional `update_one` on one document: the floor any design pays."""
    collection = container.db[f"bench_raw_{uuid.uuid4().hex[:6]}"]
    await collection.insert_one({**document, "_id": "x", "n": 0})
    start = time.perf_counter()
    for n in range(count):
        result = await collection.update_one(
            {"_id": "x", "n": {"$lt": n + 1}}, {"$set": {"n": n + 1}}
        )
        assert result.modified_count == 1
    return count / (time.perf_counter() - start)


async def memory_per_run(container: Container, count: int) -> float:
    """Process memory held per in-flight run after each has had a progress event applied."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    runs = await seed_runs(container, count)
    for run in runs:
        await container.tracker.apply(
            run.id,
            RunEvent(
                backend_run_id=run.backend_run_id or "",
                status=RunStatus.RUNNING,
                source=EventSource.WEBHOOK,
                progress=0.5,
            ),
        )
    await container.delivery.drain()
    await container.delivery.drain()
    del runs
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    return grown / count


def _empty_file() -> Path:
    """No catalog or routing entries: the backend's workflows as they are."""
    path = Path("/tmp/comfybot-bench/empty.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return path


async def main(count: int) -> dict[str, Any]:
    empty = _empty_file()
    server = EmbeddedMongo(MEMORY)
    uri = await server.start()
    notifier = TimingNotifier()
    settings = Settings.model_construct(
        **{
            **Settings().model_dump(),
            "mongodb_uri": SecretStr(uri),
            "mongodb_db": "bench",
            "data_dir": Path("/tmp/comfybot-bench"),
            "http_port": 0,
            "public_base_url": "http://127.0.0.1:1",
            "catalog_file": empty,
            "routing_file": empty,
            "webhook_secret": SecretStr("bench-secret"),
        }
    )
    container = await build_container(
        settings,
        backends=[InstantBackend()],
        clock=SystemClock(),
        notifiers=[notifier],
        delivery_policy=DeliveryPolicy(progress_interval_s=0),
    )
    try:
        await container.start_http()
        await container.start_engine()
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            rate = await throughput(
                container, await seed_runs(container, count // 2), concurrency=8
            )
            times = await latency(
                container, notifier, session, await seed_runs(container, count // 2), rate=100
            )
        raw_tiny = await raw_update_rate(container, 2000, {})
        sample = await container.db["runs"].find_one({}, {"_id": 0})
        raw_run = await raw_update_rate(container, 2000, sample or {})
        memory = await memory_per_run(container, 1000)
    finally:
        await container.close()
        await server.stop()
    ordered = sorted(times)
    return {
        "runs": count,
        "latency_p50_ms": round(statistics.median(ordered) * 1000, 2),
        "latency_p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        "latency_events": len(ordered),
        "sustained_events_per_s": round(rate, 1),
        "raw_update_one_per_s_tiny_doc": round(raw_tiny, 1),
        "raw_update_one_per_s_run_doc": round(raw_run, 1),
        "sustained_vs_raw_tiny": round(rate / raw_tiny, 3),
        "sustained_vs_raw_run_doc": round(rate / raw_run, 3),
        "memory_bytes_per_inflight_run": round(memory),
        "machine": f"{platform.machine()} {platform.python_version()}, {platform.node()}",
    }


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the repeats (this host's speed varies run to run)."""
    numeric = [k for k, v in results[0].items() if isinstance(v, int | float)]
    return {
        "repeats": len(results),
        **{k: statistics.median(r[k] for r in results) for k in numeric},
        "machine": results[0]["machine"],
        "each": [{k: r[k] for k in numeric} for r in results],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = [asyncio.run(main(args.runs)) for _ in range(args.repeat)]
    print(json.dumps(summarize(results), indent=2))
