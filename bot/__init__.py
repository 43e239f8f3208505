"""comfybot composition root: settings, service container and the `comfybot` command."""
