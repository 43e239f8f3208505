"""`comfybot catalog`, `runs` and `doctor` as an operator runs them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

from adapters.simulator import SimulatorServer

ROOT = Path(__file__).resolve().parents[2]


async def comfybot(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def environment(simulator: SimulatorServer, mongo_uri: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMFYDEPLOY_", "TELEGRAM_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        COMFYDEPLOY_API_URL=simulator.base_url,
        COMFYDEPLOY_API_KEY="sim-key",
        MONGODB_URI=mongo_uri,
        MONGODB_DB=f"cli_{uuid.uuid4().hex[:10]}",
        DATA_DIR=str(tmp_path),
        LOG_LEVEL="WARNING",
    )
    return env


async def test_catalog_runs_and_doctor(mongo_uri: str, tmp_path: Path) -> None:
    async with SimulatorServer() as simulator:
        env = environment(simulator, mongo_uri, tmp_path)
        code, out, _ = await comfybot("catalog", "--json", env=env, cwd=tmp_path)
        assert code == 0
        catalog = {entry["name"]: entry for entry in json.loads(out)}
        assert set(catalog) == {"txt2img", "img2img", "upscale"}
        txt2img = catalog["txt2img"]
        assert txt2img["command"] == "txt2img" and txt2img["text_only"] is True
        assert catalog["img2img"]["text_only"] is False
        steps = next(i for i in txt2img["inputs"] if i["name"] == "steps")
        assert steps == {
            "name": "steps",
            "type": "integer",
            "required": False,
            "default": 20,
            "min": 1,
            "max": 50,
            "choices": None,
            "discord_option": "steps",
        }
        style = next(i for i in txt2img["inputs"] if i["name"] == "style")
        assert style["choices"] == ["none", "watercolor", "photo", "anime"]
        assert txt2img["discord_command"] == "txt2img"
        assert catalog["img2img"]["discord_command"] == "img2img"  # image workflows too
        assert set(txt2img) >= {  # fields may be added, never lost
            "name",
            "command",
            "description",
            "text_only",
            "deployment_ids",
            "inputs",
        }
        assert txt2img["backend"] == "comfydeploy"
        assert txt2img["deployments"] == [
            {"backend": "comfydeploy", "id": i} for i in txt2img["deployment_ids"]
        ]

        code, out, _ = await comfybot("runs", "--json", "--limit", "5", env=env, cwd=tmp_path)
        assert (code, json.loads(out)) == (0, [])

        code, out, _ = await comfybot("doctor", env=env, cwd=tmp_path)
        assert code == 0, out
        assert "ok  backend: 2 workflows" in out or "ok  backend: 3 workflows" in out
        assert "ok  discord: DISCORD_BOT_TOKEN unset: disabled" in out
        assert "all good" in out

        env["COMFYDEPLOY_API_KEY"] = "wrong-key"
        code, out, _ = await comfybot("doctor", env=env, cwd=tmp_path)
        assert code == 1
        assert "BAD backend" in out and "wrong-key" not in out


async def test_bad_setting_stops_start_up_with_its_name(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HTTP_PORT": "eighty"}
    code, _, err = await comfybot("runs", env=env, cwd=tmp_path)
    assert code == 2
    assert "HTTP_PORT" in err
