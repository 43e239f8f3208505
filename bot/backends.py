"""The backends a process serves, built from Settings by a list of factories (one per kind)."""

from __future__ import annotations

from collections.abc import Callable

from adapters.comfydeploy import ComfyDeployBackend, ComfyDeployClient
from bot.settings import Settings
from core.ports import WorkflowBackend

BackendFactory = Callable[[Settings], list[WorkflowBackend]]


NO_BACKEND = "no backend is configured: set COMFYDEPLOY_API_KEY"


def comfydeploy_backends(settings: Settings) -> list[WorkflowBackend]:
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


BACKEND_FACTORIES: list[BackendFactory] = [comfydeploy_backends]


def build_backends(
    settings: Settings, factories: list[BackendFactory] = BACKEND_FACTORIES
) -> list[WorkflowBackend]:
    return [backend for factory in factories for backend in factory(settings)]
