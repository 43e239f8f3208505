"""API_ENABLED as `comfybot run` wires it: `start_platforms` puts the HTTP run API's routes on
the bot's server when it is on, and none when it is off (a real server on 127.0.0.1, the
embedded database, the ComfyDeploy simulator)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bot.apikeys import create_key
from bot.container import build_container
from bot.platforms import start_platforms
from tests.e2e.harness import world


@dataclass
class Answer:
    status: int
    content_type: str
    body: Any
    api_paths: list[str]
    """The platforms' routes under /api/v1."""


async def ask_for_workflows(mongo_uri: str, tmp_path: Path, *, enabled: bool) -> Answer:
    """GET /api/v1/workflows, with a valid key, of a bot started with API_ENABLED=`enabled`."""
    async with world(mongo_uri, tmp_path, api_enabled=enabled) as w:
        container = await build_container(w.settings, backends=[w.simulated(w.sim)], clock=w.clock)
        try:
            platforms = await start_platforms(container)
            server = await container.start_http(platforms.routes)
            await container.catalog.refresh()
            token = (await create_key(container, "wiring", None)).token
            url = f"{server.base_url}/api/v1/workflows"
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(url, headers={"Authorization": f"Bearer {token}"}) as response,
                ):
                    is_json = response.content_type == "application/json"
                    return Answer(
                        response.status,
                        response.content_type,
                        await response.json() if is_json else await response.text(),
                        [r.path for r in platforms.routes if r.path.startswith("/api/v1/")],
                    )
            finally:
                await platforms.stop_receiving()
                await platforms.stop()
        finally:
            await container.close()


async def test_with_api_enabled_the_api_answers_on_the_bots_server(
    mongo_uri: str, tmp_path: Path
) -> None:
    answer = await ask_for_workflows(mongo_uri, tmp_path, enabled=True)
    assert (answer.status, answer.content_type) == (200, "application/json")
    assert {"txt2img", "img2img", "upscale"} <= {w["name"] for w in answer.body["workflows"]}
    assert "/api/v1/workflows" in answer.api_paths


async def test_with_api_disabled_no_api_route_is_mounted(mongo_uri: str, tmp_path: Path) -> None:
    answer = await ask_for_workflows(mongo_uri, tmp_path, enabled=False)
    assert answer.status == 404 and "error" not in str(answer.body)
    assert answer.api_paths == []
