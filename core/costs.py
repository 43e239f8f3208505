"""GPU rate cards and run costs. ComfyDeploy bills GPU-container seconds: rate x (end - queued)."""

from __future__ import annotations

import logging

from core.errors import BackendError
from core.models import Run
from core.ports import WorkflowBackend

log = logging.getLogger(__name__)

FALLBACK_USD_PER_SECOND: dict[str, float] = {
    "CPU": 0.000042,
    "T4": 0.000180,
    "L4": 0.000320,
    "A10G": 0.000337,
    "L40S": 0.000596,
    "A100": 0.001140,
    "A100-80GB": 0.001708,
    "H100": 0.002338,
    "H200": 0.001891,
    "B200": 0.002604,
}
"""ComfyDeploy's published table, used until (or whenever) the live one cannot be fetched."""


class CostService:
    def __init__(self, backend: WorkflowBackend) -> None:
        self._backend = backend
        self._rates = dict(FALLBACK_USD_PER_SECOND)

    async def refresh(self) -> None:
        try:
            rates = await self._backend.gpu_prices()
        except BackendError as error:
            log.warning("GPU pricing unavailable, using the built-in table: %s", error)
            return
        if rates:
            self._rates = {**FALLBACK_USD_PER_SECOND, **rates}

    def rate_for(self, gpu: str | None) -> float | None:
        """USD per second for a GPU; None when the GPU is unknown."""
        return self._rates.get(gpu.upper()) if gpu else None

    @staticmethod
    def final_cost(run: Run) -> float | None:
        duration = run.duration_s
        if run.rate_usd_per_s is None or duration is None:
            return None
        return round(run.rate_usd_per_s * duration, 6)


def format_cost(usd: float | None) -> str:
    if usd is None:
        return "n/a"
    return f"${usd:.4f}" if usd < 1 else f"${usd:.2f}"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if round(seconds, 1) < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
