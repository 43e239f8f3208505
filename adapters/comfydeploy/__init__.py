"""comfydeploy adapter."""
