"""The backends a process serves, built from Settings by a list of factories (one per kind).
A backend is configured when its key or URL is set."""

from __future__ import annotations

from collections.abc import Callable

from yarl import URL

from adapters.comfyapi import ComfyApiBackend, ComfyApiClient
from adapters.comfydeploy import ComfyDeployBackend, ComfyDeployClient
from adapters.runcomfy import RunComfyBackend, RunComfyClient, TierPrices
from bot.settings import COMFY_CLOUD_URL, Settings
from core.ports import WorkflowBackend
from core.previews import PreviewBoard

BackendFactory = Callable[[Settings, PreviewBoard | None], list[WorkflowBackend]]
"""Settings and the process's preview board (for backends that stream previews)."""


NO_BACKEND = (
    "no backend is configured: set COMFYDEPLOY_API_KEY, COMFY_API_URL (or COMFY_API_KEY) "
    "or RUNCOMFY_API_TOKEN"
)
COMFY_HOSTED = ("cloud.comfy.org", ".comfy.app")
"""Hosts of Comfy's own services (Comfy Cloud, Comfy API deployments), which are not free."""


def comfydeploy_backends(
    settings: Settings, previews: PreviewBoard | None
) -> list[WorkflowBackend]:
    """Configured by its API key."""
    key = settings.comfydeploy_api_key
    if key is None:
        return []
    client = ComfyDeployClient(
        settings.comfydeploy_api_url,
        key.get_secret_value(),
        timeout_s=settings.comfydeploy_timeout_seconds,
    )
    return [ComfyDeployBackend(client)]


def runcomfy_backends(settings: Settings, previews: PreviewBoard | None) -> list[WorkflowBackend]:
    """Configured by its API token."""
    token = settings.runcomfy_api_token
    if token is None:
        return []
    client = RunComfyClient(
        settings.runcomfy_api_url,
        token.get_secret_value(),
        timeout_s=settings.runcomfy_timeout_seconds,
    )
    prices = TierPrices(settings.runcomfy_usd_per_hour)
    return [RunComfyBackend(client, settings.runcomfy_deployments, prices)]


def comfy_api_url(settings: Settings) -> str:
    return settings.comfy_api_url or COMFY_CLOUD_URL


def comfy_usd_per_second(settings: Settings) -> float | None:
    """The configured price, else free for a self-hosted ComfyUI, unknown for Comfy's cloud."""
    if settings.comfy_usd_per_second is not None:
        return settings.comfy_usd_per_second
    host = URL(comfy_api_url(settings)).host or ""
    hosted = any(host == h or (h.startswith(".") and host.endswith(h)) for h in COMFY_HOSTED)
    return None if hosted else 0.0


def comfyapi_backends(settings: Settings, previews: PreviewBoard | None) -> list[WorkflowBackend]:
    """Configured by its URL, or by its key alone (Comfy Cloud); its previews go on `previews`."""
    if settings.comfy_api_url is None and settings.comfy_api_key is None:
        return []
    key = settings.comfy_api_key
    client = ComfyApiClient(
        comfy_api_url(settings),
        key.get_secret_value() if key else "",
        timeout_s=settings.comfy_timeout_seconds,
    )
    rate = comfy_usd_per_second(settings)
    return [ComfyApiBackend(client, settings.comfy_workflows_dir, rate, previews=previews)]


BACKEND_FACTORIES: list[BackendFactory] = [
    comfydeploy_backends,
    runcomfy_backends,
    comfyapi_backends,
]


def build_backends(
    settings: Settings,
    factories: list[BackendFactory] = BACKEND_FACTORIES,
    previews: PreviewBoard | None = None,
) -> list[WorkflowBackend]:
    return [backend for factory in factories for backend in factory(settings, previews)]
