"""`comfybot catalog` and `comfybot doctor` with RunComfy and a self-hosted ComfyUI (behind the
real comfy-api-proxy) configured and ComfyDeploy not: each workflow says where it runs, each
backend is checked for reachability and credentials."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.doctor import run_doctor
from bot.settings import Settings, load_settings
from tests.e2e.comfyapi_rig import TOKEN, write_workflows
from tests.e2e.test_cli_commands import comfybot
from tests.fakes.comfyui_stack import ComfyApiStack
from tests.fakes.runcomfy_api import FakeRunComfy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeRunComfy, ComfyApiStack]]:
    async with FakeRunComfy() as rc, ComfyApiStack(token=TOKEN) as stack:
        yield rc, stack


def environment(
    rc: FakeRunComfy, stack: ComfyApiStack, mongo_uri: str, tmp_path: Path
) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COMFYDEPLOY_", "COMFY_", "RUNCOMFY_", "TELEGRAM_"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        RUNCOMFY_API_URL=rc.base_url,
        RUNCOMFY_API_TOKEN=rc.api_key,
        COMFY_API_URL=stack.api_url,
        COMFY_API_KEY=TOKEN,
        COMFY_WORKFLOWS_DIR=str(write_workflows(tmp_path / "workflows")),
        MONGODB_URI=mongo_uri,
        MONGODB_DB=f"cli_{uuid.uuid4().hex[:10]}",
        DATA_DIR=str(tmp_path),
        LOG_LEVEL="WARNING",
    )
    return env


async def test_the_catalog_says_where_each_workflow_runs(
    mongo_uri: str, tmp_path: Path, servers: tuple[FakeRunComfy, ComfyApiStack]
) -> None:
    env = environment(*servers, mongo_uri, tmp_path)
    code, out, err = await comfybot("catalog", env=env, cwd=tmp_path)
    assert code == 0, err
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("/")}
    assert set(lines) == {"/txt2img", "/img2img", "/broken"}
    assert "txt2img (text) on runcomfy, comfyapi" in lines["/txt2img"]
    assert "img2img (needs an image) on runcomfy, comfyapi" in lines["/img2img"]
    assert "broken (text) on comfyapi" in lines["/broken"]


async def test_doctor_checks_every_configured_backend(
    mongo_uri: str,
    tmp_path: Path,
    servers: tuple[FakeRunComfy, ComfyApiStack],
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, stack = servers
    env = environment(rc, stack, mongo_uri, tmp_path)
    names = {k.lower(): v for k, v in env.items() if k.lower() in Settings.model_fields}
    settings = load_settings(**names)
    assert await run_doctor(settings) == []
    out = capsys.readouterr().out
    assert "ok  backend runcomfy: 2 workflows on 2 deployments" in out
    assert f"ok  backend comfyapi: 3 workflows in {settings.comfy_workflows_dir}" in out
    assert "backend:" not in out  # ComfyDeploy is not configured, so not checked

    wrong = settings.model_copy(
        update={"runcomfy_api_token": SecretStr("bad-rc"), "comfy_api_key": SecretStr("bad-c")}
    )
    problems = await run_doctor(wrong)
    out = capsys.readouterr().out
    assert len(problems) == 2 and "BAD backend runcomfy" in out and "BAD backend comfyapi" in out
    assert "bad-rc" not in out and "bad-c" not in out
    await stack.comfy.go_down()
    problems = await run_doctor(settings)
    assert [p.split(":")[0] for p in problems] == ["backend comfyapi"]
