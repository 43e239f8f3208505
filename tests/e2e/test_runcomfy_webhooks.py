"""RunComfy's webhook route takes nothing on trust: the token in its URL, the size and shape of
the body, and what the body says (read back from the API before it is applied)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.runcomfy import RunComfyBackend, RunComfyClient
from core.models import RunStatus
from tests.e2e.harness import Engine, world
from tests.fakes.runcomfy_api import FakeRunComfy
from tests.fakes.runcomfy_catalog import TXT2IMG_DEPLOYMENT_ID


@pytest.fixture
async def rc() -> AsyncIterator[FakeRunComfy]:
    async with FakeRunComfy(webhook_backoff=(0.0,)) as fake:
        yield fake


async def post(bot: Engine, run_id: str, body: Any, token: str | None = None) -> int:
    settings = bot.container.settings
    token = bot.container.signer.token(run_id) if token is None else token
    url = f"{settings.public_base_url}/webhooks/runcomfy"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, params={"run": run_id, "token": token}, json=body) as response,
    ):
        return response.status


async def test_tokens_sizes_and_shapes_are_checked(
    mongo_uri: str, tmp_path: Path, rc: FakeRunComfy
) -> None:
    async def no_wait(seconds: float) -> None:
        return None

    client = RunComfyClient(rc.base_url, rc.api_key, timeout_s=5, sleep=no_wait)
    async with (
        world(mongo_uri, tmp_path) as w,
        w.engine(backends=[RunComfyBackend(client)]) as bot,
    ):
        await bot.say("/txt2img a fox")
        run = await bot.last_run()
        rid = run.backend_run_id
        assert rid is not None
        await rc.drain_webhooks()
        body = {"request_id": rid, "deployment_id": TXT2IMG_DEPLOYMENT_ID, "status": "succeeded"}

        assert await post(bot, run.id, body, token="0" * 32) == 403
        assert await post(bot, run.id, {"x": "y" * 1_010_000}) == 413
        assert await post(bot, run.id, {"deployment_id": TXT2IMG_DEPLOYMENT_ID}) == 400
        assert await post(bot, run.id, {**body, "deployment_id": "../../etc"}) == 400
        # It says "succeeded", but RunComfy says it is still queued: the API's word counts.
        assert await post(bot, run.id, body) == 200
        await bot.settle()
        assert (await bot.last_run()).status is RunStatus.QUEUED
        # Another request of the account, under this run's token: not this run's.
        other = await RunComfyClient(rc.base_url, rc.api_key).submit(
            TXT2IMG_DEPLOYMENT_ID, {}, None
        )
        assert await post(bot, run.id, {**body, "request_id": other}) == 409
        # RunComfy unreachable: an end cannot be confirmed, so it is to be sent again.
        rc.webhooks.drop()  # from here on only the test posts
        rc.faults.fail_next("status", 500, count=4)
        await rc.finish(rid)
        await rc.drain_webhooks()
        assert await post(bot, run.id, body) == 503
        assert (await bot.last_run()).status is RunStatus.QUEUED
        rc.faults.clear()
        assert await post(bot, run.id, body) == 200
        await bot.settle()
        done = await bot.last_run()
        assert done.status is RunStatus.SUCCESS and done.outputs
        assert bot.seen().count("✅ Done") == 1
