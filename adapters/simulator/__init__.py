"""A local ComfyDeploy-compatible server (v2 wire format) for `comfybot demo` and for tests."""

from adapters.simulator.catalog import (
    DEPLOYMENTS,
    GPU_PRICING,
    IMG2IMG_DEPLOYMENT_ID,
    MACHINES,
    TXT2IMG_DEPLOYMENT_ID,
    UPSCALE_DEPLOYMENT_ID,
)
from adapters.simulator.faults import Route
from adapters.simulator.server import DEFAULT_API_KEY, SimulatorServer
from adapters.simulator.webhooks import WebhookAttempt

__all__ = [
    "DEFAULT_API_KEY",
    "DEPLOYMENTS",
    "GPU_PRICING",
    "IMG2IMG_DEPLOYMENT_ID",
    "MACHINES",
    "TXT2IMG_DEPLOYMENT_ID",
    "UPSCALE_DEPLOYMENT_ID",
    "Route",
    "SimulatorServer",
    "WebhookAttempt",
]
