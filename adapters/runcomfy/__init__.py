"""runcomfy adapter: RunComfy's Serverless API (deployments) as a backend: its client, webhook
route, request reports and price table."""

from adapters.runcomfy.backend import RunComfyBackend
from adapters.runcomfy.client import RunComfyClient
from adapters.runcomfy.pricing import TierPrices

__all__ = ["RunComfyBackend", "RunComfyClient", "TierPrices"]
