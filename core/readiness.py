"""Whether this process should be sent traffic: its engine has started and it is not
draining. `GET /readyz` adds that the database answers (adapters/http/observability.py)."""

from __future__ import annotations


class Readiness:
    def __init__(self) -> None:
        self.started = False
        """Set once the catalog is loaded and the chat platforms are connected."""
        self.draining = False
        """Set on SIGTERM: this process is handing its work over and will exit."""

    def problem(self) -> str | None:
        """Why not ready ("starting", "draining"); None when ready."""
        if self.draining:
            return "draining"
        if not self.started:
            return "starting"
        return None
