"""mongo adapter."""
