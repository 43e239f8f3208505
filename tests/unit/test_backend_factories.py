"""Which backends a process serves, from its settings: each is on when its key or URL is set;
their settings parse and their prices follow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.comfyapi import ComfyApiBackend
from adapters.runcomfy import RunComfyBackend
from bot.backends import build_backends, comfy_usd_per_second
from bot.settings import Settings, SettingsError, load_settings
from core.workflow import Deployment


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.lower() in Settings.model_fields:
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


async def names(settings: Settings) -> list[str]:
    backends = build_backends(settings)
    try:
        return [b.name for b in backends]
    finally:
        for backend in backends:
            await backend.close()


async def test_each_backend_is_on_when_its_key_or_url_is_set() -> None:
    assert await names(load_settings()) == []
    assert await names(load_settings(runcomfy_api_token="t")) == ["runcomfy"]
    both = load_settings(comfydeploy_api_key="k", comfy_api_url="http://127.0.0.1:8189")
    assert await names(both) == ["comfydeploy", "comfyapi"]
    every = load_settings(comfydeploy_api_key="k", comfy_api_key="c", runcomfy_api_token="t")
    assert await names(every) == ["comfydeploy", "runcomfy", "comfyapi"]


def test_a_self_hosted_comfyui_is_free_and_comfys_cloud_is_not_known() -> None:
    assert comfy_usd_per_second(load_settings(comfy_api_url="http://gpu-box:8189")) == 0.0
    assert comfy_usd_per_second(load_settings(comfy_api_key="c")) is None
    deployment = load_settings(comfy_api_url="https://my-flux.run.comfy.app")
    assert comfy_usd_per_second(deployment) is None
    priced = load_settings(comfy_api_key="c", comfy_usd_per_second=0.0004)
    assert comfy_usd_per_second(priced) == 0.0004
    backend = build_backends(load_settings(comfy_api_url="http://gpu-box:8189/"))[-1]
    assert isinstance(backend, ComfyApiBackend) and backend.client.base == "http://gpu-box:8189"


def test_runcomfy_settings_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNCOMFY_API_TOKEN", "t")
    monkeypatch.setenv("RUNCOMFY_DEPLOYMENTS", " dep-a, dep-b ,")
    monkeypatch.setenv("RUNCOMFY_USD_PER_HOUR", "ampere_24=1.39, HOPPER_141=6.99")
    settings = load_settings()
    assert settings.runcomfy_deployments == ("dep-a", "dep-b")
    assert settings.runcomfy_usd_per_hour == {"AMPERE_24": 1.39, "HOPPER_141": 6.99}
    (backend,) = build_backends(settings)
    assert isinstance(backend, RunComfyBackend)
    on = Deployment(backend="runcomfy", id="dep-a", workflow_name="w", gpu="AMPERE_24")
    assert backend.usd_per_second(on) == pytest.approx(1.39 / 3600)
    assert backend.usd_per_second(on.model_copy(update={"gpu": "TURING_16"})) == pytest.approx(
        0.99 / 3600
    )


@pytest.mark.parametrize("value", ["AMPERE_24", "AMPERE_24=cheap", "=1.0", "AMPERE_24=-1"])
def test_a_bad_price_names_its_setting(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("RUNCOMFY_USD_PER_HOUR", value)
    with pytest.raises(SettingsError, match="RUNCOMFY_USD_PER_HOUR"):
        load_settings()
