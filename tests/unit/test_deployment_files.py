"""The Dockerfile and compose.yaml describe the production layout (README "Deployment"): every
variable they set for the bot is a setting it reads, the load balancer checks /readyz, and
Docker waits longer than the bot's own shutdown grace before it kills."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {name.upper() for name in Settings.model_fields}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def bot_services() -> dict[str, dict[str, Any]]:
    """The services that run the bot's image (built from the Dockerfile)."""
    services: dict[str, dict[str, Any]] = compose()["services"]
    return {name: s for name, s in services.items() if "build" in s}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `- NAME=value` form
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def dockerfile_env() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip().upper().startswith("ENV "):
            found.update(re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", line))
    return found


def test_the_compose_file_runs_several_instances_behind_a_checked_balancer() -> None:
    bots = bot_services()
    assert len(bots) >= 2
    haproxy = compose()["configs"]["haproxy"]["content"]
    assert "option httpchk GET /readyz" in haproxy
    for name in bots:
        assert re.search(rf"server {name} {name}:8080 check", haproxy), name
    assert all("TELEGRAM_WEBHOOK_URL" in environment(s) for s in bots.values())
    assert all("replicaSet=" in environment(s)["MONGODB_URI"] for s in bots.values())


def test_every_variable_the_deployment_sets_is_a_setting() -> None:
    for name, service in bot_services().items():
        unknown = set(environment(service)) - SETTINGS
        assert unknown == set(), f"compose.yaml service {name} sets {unknown}"
    unknown = set(dockerfile_env()) - SETTINGS
    assert dockerfile_env() and unknown == set(), f"the Dockerfile sets {unknown}"


def test_docker_waits_out_the_shutdown_grace_before_killing() -> None:
    for name, service in bot_services().items():
        grace = float(environment(service).get("SHUTDOWN_GRACE_SECONDS", 30))
        period = str(service["stop_grace_period"])
        assert period.endswith("s") and float(period[:-1]) > grace, name
