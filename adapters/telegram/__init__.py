"""telegram adapter."""
