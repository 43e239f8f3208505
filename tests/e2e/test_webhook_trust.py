"""What a webhook may do: its body is read whole, an end its backend contradicts is not
applied, an ambiguous URL is refused, and no output is fetched from a host not allowed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.comfydeploy import ComfyDeployBackend, ComfyDeployClient
from core.backends import BackendRegistry
from core.files import FileManager
from core.models import ChatRef, Output, OutputKind, Run, RunStatus
from tests.e2e.harness import Engine, world

WEBHOOK_PATH = "/webhooks/comfydeploy"


async def post_raw(bot: Engine, query: str, chunks: list[bytes]) -> int:
    """POST a body in several writes (several TCP segments), as a slow sender does."""
    assert bot.container.http is not None
    url = f"{bot.container.http.base_url}{WEBHOOK_PATH}?{query}"

    async def body() -> Any:
        for chunk in chunks:
            yield chunk

    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body(), headers={"Content-Type": "application/json"}) as response,
    ):
        return response.status


def event(backend_run_id: str, status: str, progress: float) -> bytes:
    return json.dumps(
        {"event_type": "run.updated", "status": status, "progress": progress,
         "run_id": backend_run_id, "live_status": "Executing", "outputs": []}
    ).encode()  # fmt: skip


async def test_a_body_in_pieces_is_read_whole(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        await bot.say("/txt2img a slow sender width=32 height=32")
        run = await bot.last_run()
        assert run.backend_run_id is not None
        query = f"run={run.id}&token={bot.container.signer.token(run.id)}"
        body = event(run.backend_run_id, "running", 0.5)
        pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
        assert await post_raw(bot, query, pieces) == 200
        stored = await bot.container.runs_store.get(run.id)
        assert stored is not None and (stored.status, stored.progress) == (RunStatus.RUNNING, 0.5)


async def test_an_end_the_backend_contradicts_is_not_applied(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        await bot.say("/txt2img a premature end width=32 height=32")
        run = await bot.last_run()
        assert run.backend_run_id is not None
        await w.sim.advance(run.backend_run_id)
        query = f"run={run.id}&token={bot.container.signer.token(run.id)}"
        assert await post_raw(bot, query, [event(run.backend_run_id, "success", 1.0)]) == 200
        await bot.settle()
        stored = await bot.container.runs_store.get(run.id)
        assert stored is not None and not stored.status.terminal  # the API says it runs
        assert "✅ Done" not in bot.seen()
        await w.sim.finish(run.backend_run_id)
        await bot.settle()
        assert bot.seen().count("✅ Done") == 1


async def test_a_repeated_run_or_token_parameter_is_refused(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        await bot.say("/txt2img twice named width=32 height=32")
        run = await bot.last_run()
        assert run.backend_run_id is not None
        token = bot.container.signer.token(run.id)
        body = [event(run.backend_run_id, "running", 0.4)]
        assert await post_raw(bot, f"run={run.id}&token={token}&run=other", body) == 400
        assert await post_raw(bot, f"run={run.id}&token={token}&token=x", body) == 400
        stored = await bot.container.runs_store.get(run.id)
        assert stored is not None and stored.progress == 0.0


async def test_outputs_are_fetched_only_from_allowed_hosts(tmp_path: Path) -> None:
    hits: list[str] = []

    async def page(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=b"\x89PNG\r\n\x1a\nfake", content_type="image/png")

    app = web.Application()
    app.router.add_get("/{path:.*}", page)
    async with TestServer(app) as api, TestServer(app) as internal:
        client = ComfyDeployClient(str(api.make_url("/api")), "key", retries=0)
        registry = BackendRegistry([ComfyDeployBackend(client)])
        files = FileManager(registry, tmp_path, 10_000, 10_000, 5)
        try:
            outputs = (
                Output(kind=OutputKind.IMAGE, url=str(internal.make_url("/metrics"))),
                Output(kind=OutputKind.IMAGE, url="/metrics"),
                Output(kind=OutputKind.IMAGE, url="http://example.com/a.png"),
                Output(kind=OutputKind.IMAGE, url=str(api.make_url("/outputs/ok.png"))),
            )
            saved, _ = await files.save_outputs(finished(outputs))
        finally:
            await registry.close()
    assert [f.filename for f in saved] == ["ok.png"]
    assert hits == ["/outputs/ok.png"]  # nothing else was even asked for


def finished(outputs: tuple[Output, ...]) -> Run:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Run(
        id="r1",
        workflow="w",
        deployment_id="d",
        chat=ChatRef(platform="test", chat_id="1", user_id="1"),
        status=RunStatus.SUCCESS,
        outputs=outputs,
        created_at=now,
        updated_at=now,
    )
