"""Duplicate, late, forged, tampered and malformed webhooks change nothing they should not."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import aiohttp

from adapters.simulator import Route
from core.models import RunStatus
from tests.e2e.harness import Engine, world

WEBHOOK_PATH = "/webhooks/comfydeploy"


async def _post(bot: Engine, query: str, body: bytes) -> int:
    """POST a webhook body as ComfyDeploy would, to the bot's own server."""
    assert bot.container.http is not None
    url = f"{bot.container.http.base_url}{WEBHOOK_PATH}?{query}"
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(
            url, data=io.BytesIO(body), headers={"Content-Type": "application/json"}
        ) as resp,
    ):
        return resp.status


def _body(backend_run_id: str, status: str, progress: float = 1.0) -> bytes:
    return json.dumps(
        {
            "event_type": "run.updated",
            "status": status,
            "live_status": "Executing KSampler",
            "progress": progress,
            "run_id": backend_run_id,
            "outputs": [],
        }
    ).encode()


async def test_duplicate_webhooks_are_ignored(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        w.sim.webhooks.duplicate(count=None)
        await bot.say("/txt2img two foxes width=32 height=32")
        run = await bot.last_run()
        assert run.backend_run_id is not None
        await w.sim.finish(run.backend_run_id)
        await bot.settle()

        statuses = [a.body["status"] for a in w.sim.webhooks.attempts]
        assert statuses.count("success") == 2
        stored = await bot.container.runs_store.get(run.id)
        assert stored is not None and stored.status is RunStatus.SUCCESS
        assert bot.seen().count("✅ Done") == 1
        assert all(a.status == 200 for a in w.sim.webhooks.attempts)


async def test_late_webhooks_do_not_undo_the_end(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        w.sim.webhooks.defer(status="running", count=2)
        await bot.say("/txt2img a late fox width=32 height=32")
        run = await bot.last_run()
        assert run.backend_run_id is not None
        await w.sim.finish(run.backend_run_id)
        await w.sim.drain_webhooks()
        await bot.settle()

        statuses = [a.body["status"] for a in w.sim.webhooks.attempts]
        last_success = len(statuses) - 1 - statuses[::-1].index("success")
        assert "running" in statuses[last_success:], statuses
        stored = await bot.container.runs_store.get(run.id)
        assert stored is not None and stored.status is RunStatus.SUCCESS
        assert stored.progress == 1.0
        assert bot.seen().count("✅ Done") == 1
        assert "⚙️ Running" not in bot.seen().split("✅ Done", 1)[1]


async def test_forged_and_tampered_webhooks_are_refused(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        await bot.say("/txt2img a locked door width=32 height=32")
        run = await bot.last_run()
        assert run.backend_run_id is not None
        signer = bot.container.signer
        good = f"run={run.id}&token={signer.token(run.id)}"
        success = _body(run.backend_run_id, "success")

        assert await _post(bot, f"run={run.id}&token=forged", success) == 403
        assert await _post(bot, f"run={run.id}", success) == 403
        other = "ffffffffffff"
        assert await _post(bot, f"run={other}&token={signer.token(run.id)}", success) == 403
        assert await _post(bot, f"run={other}&token={signer.token(other)}", success) == 404
        wrong_run = _body("6f1c1c1e-0000-4000-8000-000000000000", "success")
        assert await _post(bot, good, wrong_run) == 409
        assert await _post(bot, good, b"not json") == 400
        assert await _post(bot, good, b'{"status": "success"}') == 400
        assert await _post(bot, good, _body(run.backend_run_id, "exploded")) == 400
        assert await _post(bot, good, b"{" + b" " * 1_100_000 + b"}") == 413
        await bot.settle()

        stored = await bot.container.runs_store.get(run.id)
        assert stored is not None
        assert stored.status is RunStatus.NOT_STARTED
        assert "✅ Done" not in bot.seen()

        # The genuine event, with the right token and backend run, is taken.
        assert await _post(bot, good, _body(run.backend_run_id, "running", 0.5)) == 200
        await bot.settle()
        stored = await bot.container.runs_store.get(run.id)
        assert stored is not None and stored.status is RunStatus.RUNNING
        assert stored.progress == 0.5


async def test_metrics_count_webhook_outcomes(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        await bot.say("/txt2img a counter width=32 height=32")
        run = await bot.last_run()
        assert run.backend_run_id is not None
        await w.sim.finish(run.backend_run_id)
        await bot.settle()
        assert await _post(bot, f"run={run.id}&token=nope", b"{}") == 403
        assert bot.container.http is not None
        base = bot.container.http.base_url
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            async with session.get(f"{base}/metrics") as resp:
                text = await resp.text()
            async with session.get(f"{base}/healthz") as resp:
                health = await resp.json()
                assert resp.status == 200
        assert 'comfybot_runs{status="success"} 1' in text
        assert 'comfybot_webhook_events_total{source="webhook",outcome="applied"}' in text
        assert 'comfybot_webhook_events_total{source="webhook",outcome="forbidden"} 1' in text
        assert "comfybot_delivery_latency_seconds_count 1" in text
        assert health == {"database": "ok", "backend": "ok"}


async def test_event_before_the_run_is_marked_submitted_asks_for_a_retry(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        gate = w.sim.faults.hold(Route.QUEUE)
        started = asyncio.create_task(bot.say("/txt2img an early bird width=32 height=32"))
        await w.sim.faults.wait_held(Route.QUEUE)
        pending = await bot.last_run()
        assert pending.status is RunStatus.PENDING
        token = bot.container.signer.token(pending.id)
        early = _body("6f1c1c1e-0000-4000-8000-000000000001", "queued", 0.0)
        # ComfyDeploy retries a non-2xx delivery, so the event comes again once we know the run.
        assert await _post(bot, f"run={pending.id}&token={token}", early) == 409
        gate.set()
        await started
        stored = await bot.container.runs_store.get(pending.id)
        assert stored is not None and stored.status is RunStatus.NOT_STARTED
