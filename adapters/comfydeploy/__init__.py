"""comfydeploy adapter: the ComfyDeploy API as a backend, its client and run-report parsing."""

from adapters.comfydeploy.backend import ComfyDeployBackend
from adapters.comfydeploy.client import ComfyDeployClient
from adapters.comfydeploy.events import MalformedEvent, parse_run, parse_webhook

__all__ = [
    "ComfyDeployBackend",
    "ComfyDeployClient",
    "MalformedEvent",
    "parse_run",
    "parse_webhook",
]
