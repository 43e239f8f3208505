"""More workflows than Telegram's menu holds (100 commands): `menu_priority` picks which are
listed, the operator is told which are left out (log, `comfybot catalog`, `comfybot doctor`),
and every workflow still runs when typed."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from adapters.simulator.catalog import TXT2IMG_DEPLOYMENT_ID
from bot.cli import _catalog
from bot.doctor import run_doctor
from tests.e2e.harness import world
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_e2e import USER_ID, telegram_bot

COUNT = 120


def many_workflows(folder: Path) -> Path:
    """120 workflows of the catalog file's own on the simulator's txt2img deployment."""
    entries: dict[str, Any] = {
        f"style{n:03d}": {
            "description": f"Style number {n}",
            "deployment_ids": [TXT2IMG_DEPLOYMENT_ID],
            "inputs": {"prompt": {"type": "text", "required": True}},
        }
        for n in range(COUNT)
    }
    entries["style119"]["menu_priority"] = 10  # would be cut, by name
    entries["style000"]["menu_priority"] = -1  # would be listed, by name
    path = folder / "many.catalog.yaml"
    path.write_text(yaml.safe_dump({"workflows": entries}))
    return path


async def test_the_menu_keeps_the_priorities_and_every_workflow_runs_when_typed(
    mongo_uri: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.telegram.menu")
    catalog = many_workflows(tmp_path)
    async with (
        FakeTelegram() as fake,
        world(mongo_uri, tmp_path, catalog_file=catalog) as w,
        telegram_bot(w, fake) as tg,
    ):
        menu = fake.menu()
        assert len(menu) == 100
        assert "style119" in menu and "style000" not in menu and "style118" not in menu
        [warning] = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
        assert "the menu holds" in warning and "they still run when typed" in warning
        assert "style000" in warning and "menu_priority" in warning

        command = fake.send_text(5, USER_ID, "/style000 a fox")
        await tg.wait_handled(1)
        run = await tg.run_for(command)
        assert run.workflow == "style000"
        await tg.finish(run)
        assert len(fake.sent("sendPhoto", 5)) == 1


async def test_catalog_and_doctor_name_what_is_left_out(
    mongo_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = many_workflows(tmp_path)
    async with world(mongo_uri, tmp_path, catalog_file=catalog) as w, FakeTelegram() as fake:
        settings = w.settings.model_copy(
            update={
                "telegram_bot_token": SecretStr(fake.token),
                "telegram_api_base_url": fake.base_url,
            }
        )
        await _catalog(settings, argparse.Namespace(json=True))
        listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
        assert len(listed) == COUNT + 3  # and the simulator's own three
        off_menu = {name for name, entry in listed.items() if not entry["telegram_menu"]}
        assert "style000" in off_menu and "style119" not in off_menu
        assert listed["style119"]["menu_priority"] == 10

        await _catalog(settings, argparse.Namespace(json=False))
        out = capsys.readouterr().out
        assert "style000 (text, not in the Telegram menu)" in out
        assert "comfybot: the Telegram menu holds" in out

        await run_doctor(settings)
        out = capsys.readouterr().out
        [line] = [line for line in out.splitlines() if "telegram menu" in line]
        held = 100 - 12  # the built-ins take twelve places
        assert f"holds {held} of {COUNT + 3} workflows" in line
        assert f"{COUNT + 3 - held} left out (they still run when typed)" in line
