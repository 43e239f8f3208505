"""Previews on the HTTP run API's event stream: a self-hosted ComfyUI (the fake, sending
previews) behind the real comfy-api-proxy, comfybot's Comfy API v2 backend, and a client
following the run's events. Previews come before the result, never after it, and at most one
a second (on the bot's clock), the newest winning."""

from __future__ import annotations

import asyncio
import io
import json
from base64 import b64decode
from pathlib import Path
from typing import Any

from PIL import Image

from adapters.comfyapi import ComfyApiBackend, ComfyApiClient
from core.previews import PreviewBoard
from tests.e2e.api_rig import Api, api_bot, png
from tests.e2e.comfyapi_rig import TOKEN, ComfyApiRig, streaming
from tests.fakes.comfyui_graphs import txt2img
from tests.fakes.comfyui_stack import ComfyApiStack
from tests.fakes.waiting import eventually

STEPS = 3
"""The KSampler's steps: the fake ComfyUI sends one preview per step, all at once (the proxy
passes about two a second, so one here)."""


async def follow(api: Api, token: str, run_id: str, seen: list[tuple[str, Any]]) -> None:
    """Read the run's events into `seen` until the server ends the stream."""
    url = f"{api.base}/api/v1/runs/{run_id}/events"
    async with api.http.get(url, headers=api.auth(token)) as response:
        assert response.status == 200
        kind, data = None, None
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
            elif line == "" and kind is not None:
                seen.append((kind, data))
                kind, data = None, None


async def test_a_follower_sees_paced_previews_then_the_result(
    mongo_uri: str, tmp_path: Path
) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "sketch.json").write_text(json.dumps(txt2img(steps=STEPS)))
    board = PreviewBoard()
    async with ComfyApiStack(mode="manual", token=TOKEN, previews=True) as stack:
        rig = ComfyApiRig(stack, folder)
        client = ComfyApiClient(stack.api_url, TOKEN, timeout_s=5, sleep=rig._sleep)
        backend = ComfyApiBackend(client, folder, 0.0, previews=board)
        async with api_bot(mongo_uri, tmp_path, [backend], previews=board) as api:
            token = await api.key("previews", credits="10")
            path = "/api/v1/workflows/sketch/runs"
            status, accepted, _ = await api.call("POST", path, token, body={"prompt": "a fox"})
            assert status == 202, accepted
            run_id = accepted["id"]
            seen: list[tuple[str, Any]] = []
            reading = asyncio.create_task(follow(api, token, run_id, seen))

            async def submitted() -> bool:
                return (await api.run(run_id)).backend_run_id is not None

            await eventually(submitted)
            await streaming(rig, backend, await api.run(run_id))
            step = await stack.comfy.step()
            while step.node_id != "3":  # the KSampler, which sends the previews
                step = await stack.comfy.step()

            def previews() -> list[Any]:
                return [data for kind, data in seen if kind == "preview"]

            async def shown(count: int) -> bool:
                return len(previews()) >= count

            await eventually(lambda: shown(1))  # the proxy's first (it passes ~2 a second)
            # A faster source on the same board: three more within no time on the clock. The
            # first is held back (the stream waits on the clock for its turn), then overtaken.
            clock = api.world.clock
            waiting = clock.sleepers
            assert board.put(run_id, png(16, 16)) is not None

            async def held_back() -> bool:
                return clock.sleepers > waiting

            await eventually(held_back)
            for side in (24, 32):
                assert board.put(run_id, png(side, side)) is not None
            clock.advance(1.0)  # one second later, only the newest is shown
            await eventually(lambda: shown(2))
            await stack.comfy.finish()
            async with asyncio.timeout(10):
                await reading

    kinds = [kind for kind, _ in seen]
    assert kinds[-1] == "result" and "preview" not in kinds[kinds.index("result") :]
    first, second = previews()  # 4 previews, 1 s on the clock: 2 shown
    sizes = []
    for preview in (first, second):
        assert preview["mime"] == "image/png"
        with Image.open(io.BytesIO(b64decode(preview["data"]))) as image:
            sizes.append(image.size)
    assert sizes == [(64, 64), (32, 32)]  # the ComfyUI's preview, then the newest
    assert board.latest(run_id) is None  # dropped when the run's stream ended
