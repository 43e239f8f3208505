"""What credits and the fair queue cost, on the embedded database.

Run: .venv/bin/python -m bench.credits_bench [--runs 1000] [--users 100]

1. Reserve + record: a run's admission (its hold and its place among the user's active runs, one
   conditional update of the account) and its insert, against the insert alone; database
   commands per run counted with PyMongo's command monitoring.
2. Settle: the terminal event of a submitted run through the tracker, with credits on and off;
   the difference in commands per run is what the credit path adds to that hot path (target:
   at most one round trip).
3. Dispatcher throughput: `--runs` runs of `--users` users queued at once (two running per
   user), then pumped and ended until every one has gone through the queue, submit and
   settlement included; and one idle pass over the full queue when no slot is free.

The backend answers at once (bench/webhook_bench.py's InstantBackend), so the figures are the
bot's and its database's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pymongo import monitoring

from adapters.mongo.embedded import EmbeddedMongo
from bench.host import host_facts
from bench.webhook_bench import WORKFLOW, InstantBackend
from bot.container import Container, build_container
from bot.settings import Settings
from core.clock import SystemClock
from core.credits import CreditPolicy
from core.models import ChatRef, EventSource, Run, RunEvent, RunStatus


class CommandCounter(monitoring.CommandListener):
    """Counts the database commands the client sends (one per round trip)."""

    def __init__(self) -> None:
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in ("hello", "isMaster", "ping", "endSessions"):
            self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


FLUSH_EVERY = 50
"""Operations between two copies of the accounts' journals to the ledger, as the bot copies
them every SWEEP_SECONDS (the copies are not part of the timed or counted operations)."""
COUNTER = CommandCounter()
monitoring.register(COUNTER)


@contextmanager
def counting() -> Iterator[list[int]]:
    """Commands sent inside the block (read the one-element list afterwards)."""
    found = [0]
    before = COUNTER.count
    yield found
    found[0] = COUNTER.count - before


def empty_file(folder: Path) -> Path:
    path = folder / "empty.yaml"
    path.write_text("")
    return path


async def engine(uri: str, credits: bool, data: Path) -> Container:
    settings = Settings.model_construct(
        **{
            **Settings().model_dump(),
            "mongodb_uri": SecretStr(uri),
            "mongodb_db": f"bench_{uuid.uuid4().hex[:8]}",
            "data_dir": data,
            "http_port": 0,
            "public_base_url": "http://127.0.0.1:1",
            "catalog_file": empty_file(data),
            "routing_file": empty_file(data),
            "webhook_secret": SecretStr("bench-secret"),
            "credits_enabled": credits,
            "new_user_credits": 1_000_000.0,
            "max_running_per_user": 2,
            "max_queued_per_user": 10_000,
            "max_running_per_deployment": 0,
            "rate_limit_per_user": 0,
        }
    )
    container = await build_container(settings, backends=[InstantBackend()], clock=SystemClock())
    await container.start_engine()
    return container


def new_run(user: str, credits: CreditPolicy | None) -> Run:
    """A run of `user` (`bench:<id>`)."""
    now = datetime.now(UTC)
    return Run(
        id=uuid.uuid4().hex[:12],
        workflow=WORKFLOW.name,
        backend="comfydeploy",
        deployment_id="dep-1",
        inputs={"prompt": "a fox"},
        chat=ChatRef(platform="bench", chat_id="lab", user_id=user.removeprefix("bench:")),
        rate_usd_per_s=0.000337,
        created_at=now,
        updated_at=now,
        credits=credits.terms(60, 0.000337) if credits else None,
    )


async def record(container: Container, users: list[str], count: int, admit: bool) -> list[Run]:
    """Record `count` runs round the users (admitted first when `admit`): as the launcher does."""
    policy = CreditPolicy()
    runs = []
    for index in range(count):
        user = f"bench:{users[index % len(users)]}"
        run = new_run(user, policy if admit else None)
        if admit:
            assert run.credits is not None
            await container.accounts.open(user, 10**8, run.created_at)
            refusal = await container.accounts.admit(
                user, run.id, run.credits.held, 10**6, run.created_at
            )
            assert refusal is None
        assert await container.runs_store.insert(run)
        runs.append(run)
    return runs


async def reserve_and_record(uri: str, data: Path, count: int) -> dict[str, Any]:
    container = await engine(uri, True, data)
    try:
        users = [f"u{n}" for n in range(50)]
        for user in users:
            await container.accounts.open(f"bench:{user}", 10**8, datetime.now(UTC))
        policy = CreditPolicy()
        results: dict[str, Any] = {}
        for admitted in (False, True):
            times = []
            sent = 0
            for index in range(count):
                user = f"bench:{users[index % len(users)]}"
                run = new_run(user, policy if admitted else None)
                with counting() as commands:
                    start = time.perf_counter()
                    if admitted:
                        assert run.credits is not None
                        held = run.credits.held
                        await container.accounts.admit(user, run.id, held, 10**6, run.created_at)
                    await container.runs_store.insert(run)
                    times.append(time.perf_counter() - start)
                sent += commands[0]
                if index % FLUSH_EVERY == 0:  # as the ledger job does every SWEEP_SECONDS
                    await container.accounts.flush_ledger(500)
            name = "reserve_and_record" if admitted else "record_only"
            results[f"{name}_ms_p50"] = round(statistics.median(times) * 1000, 3)
            results[f"{name}_commands_per_run"] = sent / count
        return results
    finally:
        await container.close()


async def settle(uri: str, data: Path, count: int, credits: bool) -> dict[str, float]:
    """The tracker's own terminal path: delivery and the next pump (both in the background
    otherwise) are set aside, so the commands counted are the ones the webhook waits for.
    Without credits the end listeners are removed: the tracker as it was before them."""
    container = await engine(uri, credits, data)
    try:
        users = [f"u{n}" for n in range(50)]
        await record(container, users, count, admit=credits)
        await container.queue.pump()  # two runs per user submitted

        async def nothing(*_: object) -> None:
            return None

        container.delivery.run_changed = nothing  # type: ignore[method-assign]
        container.queue.pump_soon = lambda: None  # type: ignore[method-assign]
        if not credits:
            container.tracker._end_listeners.clear()
        submitted = [r for r in await container.runs_store.recent(count) if r.backend_run_id]
        times: list[float] = []
        sent = 0
        for run in submitted:
            assert run.backend_run_id is not None
            event = RunEvent(
                backend_run_id=run.backend_run_id,
                status=RunStatus.SUCCESS,
                source=EventSource.WEBHOOK,
                ended_at=datetime.now(UTC),
            )
            with counting() as commands:
                start = time.perf_counter()
                assert await container.tracker.apply(run.id, event)
                times.append(time.perf_counter() - start)
            sent += commands[0]
            if len(times) % FLUSH_EVERY == 0:
                await container.accounts.flush_ledger(500)
        return {
            "terminal_apply_ms_p50": round(statistics.median(times) * 1000, 3),
            "terminal_commands_per_run": round(sent / len(submitted), 2),
        }
    finally:
        await container.close()


async def throughput(uri: str, data: Path, count: int, users: int) -> dict[str, float]:
    container = await engine(uri, True, data)
    try:
        names = [f"u{n}" for n in range(users)]
        await record(container, names, count, admit=True)
        # An idle pass: every user holds both slots, the rest of the queue waits.
        for name in names:
            for slot in range(2):
                await container.accounts.take_slot(
                    f"bench:{name}", f"busy{slot}", 2, datetime.now(UTC)
                )
        start = time.perf_counter()
        await container.queue.pump()
        idle_pass = time.perf_counter() - start
        for name in names:
            for slot in range(2):
                await container.accounts.give_slot(f"bench:{name}", f"busy{slot}")

        start = time.perf_counter()
        done = 0
        while done < count:
            await container.queue.pump()
            submitted = [
                r
                for r in await container.runs_store.recent(count)
                if r.backend_run_id and not r.status.terminal
            ]
            for run in submitted:
                assert run.backend_run_id is not None
                await container.tracker.apply(
                    run.id,
                    RunEvent(
                        backend_run_id=run.backend_run_id,
                        status=RunStatus.SUCCESS,
                        source=EventSource.WEBHOOK,
                        ended_at=datetime.now(UTC),
                    ),
                )
            done += len(submitted)
        elapsed = time.perf_counter() - start
        await container.delivery.drain()
        return {
            "queued_runs": count,
            "users": users,
            "idle_pass_over_full_queue_ms": round(idle_pass * 1000, 1),
            "through_queue_runs_per_s": round(count / elapsed, 1),
        }
    finally:
        await container.close()


async def main(count: int, users: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="comfybot-credits-bench-"))
    server = EmbeddedMongo(folder / "mongo")  # on disk, as the bot runs it
    uri = await server.start()
    try:
        result: dict[str, Any] = {}
        result.update(await reserve_and_record(uri, folder, count))
        off = await settle(uri, folder, count // 2, credits=False)
        on = await settle(uri, folder, count // 2, credits=True)
        result.update({f"credits_off_{k}": v for k, v in off.items()})
        result.update({f"credits_on_{k}": v for k, v in on.items()})
        result["credit_path_extra_commands_per_terminal_event"] = round(
            on["terminal_commands_per_run"] - off["terminal_commands_per_run"], 2
        )
        result.update(await throughput(uri, folder, count, users))
    finally:
        await server.stop()
    result.update(host_facts())
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.runs, args.users)), indent=2))
