"""comfyapi adapter: the Comfy API v2 (Comfy Cloud, Comfy API deployments, a self-hosted
ComfyUI behind comfy-api-proxy) as a backend: its client, event streams and workflow folder."""

from adapters.comfyapi.backend import ComfyApiBackend
from adapters.comfyapi.client import ComfyApiClient

__all__ = ["ComfyApiBackend", "ComfyApiClient"]
