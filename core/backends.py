"""Every configured backend, by name. Runs, deployments and routing refer to backends by name."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from core.errors import BackendError
from core.ports import WorkflowBackend

log = logging.getLogger(__name__)


class UnknownBackend(BackendError):
    """A run or a route names a backend that is not configured (any more)."""


class BackendRegistry:
    def __init__(self, backends: Sequence[WorkflowBackend]) -> None:
        if not backends:
            raise ValueError("at least one backend is needed")
        self._backends: dict[str, WorkflowBackend] = {}
        for backend in backends:
            if backend.name in self._backends:
                raise ValueError(f"two backends are called {backend.name}")
            self._backends[backend.name] = backend

    @property
    def default(self) -> WorkflowBackend:
        """The first configured: where a bare deployment id in the config files points."""
        return next(iter(self._backends.values()))

    def get(self, name: str) -> WorkflowBackend:
        try:
            return self._backends[name]
        except KeyError:
            raise UnknownBackend(f"no backend called {name} is configured") from None

    def __iter__(self) -> Iterator[WorkflowBackend]:
        return iter(self._backends.values())

    def __len__(self) -> int:
        return len(self._backends)

    async def close(self) -> None:
        for backend in self:
            try:
                await backend.close()
            except Exception:
                log.exception("backend %s did not close cleanly", backend.name)
