"""comfydeploy adapter: the ComfyDeploy API client and its run-report parsing."""

from adapters.comfydeploy.client import ComfyDeployClient
from adapters.comfydeploy.events import MalformedEvent, parse_run, parse_webhook

__all__ = ["ComfyDeployClient", "MalformedEvent", "parse_run", "parse_webhook"]
