"""`comfybot catalog` (plain and --json) shows the Discord slash command of each workflow: the
deterministic `_2`, `_3` of names that collide, and none for a workflow Discord has no room for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from adapters.simulator import SimulatorServer
from adapters.simulator.catalog import TXT2IMG_DEPLOYMENT_ID
from tests.e2e.test_cli_commands import comfybot, environment

STYLES = 90
"""With the simulator's three, more workflows than Discord's 100 commands leave room for."""


def catalog_file(folder: Path) -> Path:
    entries: dict[str, Any] = {
        # Both ask for /help, a built-in: they get help_2 and help_3 in workflow-name order.
        "txt2img": {"command": "Help", "menu_priority": 1},
        "img2img": {"command": "help", "menu_priority": 1},
    }
    for n in range(STYLES):
        entries[f"style{n:03d}"] = {
            "description": f"Style number {n}",
            "deployment_ids": [TXT2IMG_DEPLOYMENT_ID],
            "inputs": {"prompt": {"type": "text", "required": True}},
        }
    path = folder / "colliding.catalog.yaml"
    path.write_text(yaml.safe_dump({"workflows": entries}))
    return path


async def test_catalog_shows_collided_names_and_workflows_with_no_discord_command(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with SimulatorServer() as simulator:
        env = environment(simulator, mongo_uri, tmp_path)
        env["CATALOG_FILE"] = str(catalog_file(tmp_path))
        env.pop("DISCORD_BOT_TOKEN", None)

        code, out, err = await comfybot("catalog", "--json", env=env, cwd=tmp_path)
        assert code == 0, err
        listed = {entry["name"]: entry for entry in json.loads(out)}
        assert len(listed) == STYLES + 3
        assert listed["img2img"]["command"] == "help_2"
        assert listed["img2img"]["discord_command"] == "help_2"
        assert listed["txt2img"]["command"] == "help_3"
        assert listed["txt2img"]["discord_command"] == "help_3"
        absent = sorted(name for name, entry in listed.items() if entry["discord_command"] is None)
        assert absent and "txt2img" not in absent and "img2img" not in absent
        assert absent[-1] == "upscale"  # the last by name go first (no menu_priority)
        assert "comfybot: the Discord command list holds" in err
        for name in absent:
            assert name in err

        code, out, err = await comfybot("catalog", env=env, cwd=tmp_path)
        assert code == 0, err
        rows = [line.split() for line in out.splitlines() if line.startswith("/")]
        shown = {row[3] if row[1] == "discord" else row[4]: row for row in rows}
        assert len(shown) == STYLES + 3
        assert shown["img2img"][:4] == ["/help_2", "discord", "/help_2", "img2img"]
        assert shown["txt2img"][:4] == ["/help_3", "discord", "/help_3", "txt2img"]
        for name in absent:
            assert shown[name][:5] == [f"/{name}", "not", "on", "discord", name]
        assert "comfybot: the Discord command list holds" in out
