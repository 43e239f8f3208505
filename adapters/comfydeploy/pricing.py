"""ComfyDeploy's GPU prices (USD per GPU-second): the live list from `GET /platform/gpu-pricing`,
and the published table until (or whenever) it cannot be fetched. ComfyDeploy bills
GPU-container seconds, i.e. rate x (end - queued); see https://www.comfydeploy.com/pricing."""

from __future__ import annotations

PUBLISHED_USD_PER_SECOND: dict[str, float] = {
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


class GpuPrices:
    def __init__(self) -> None:
        self._rates = dict(PUBLISHED_USD_PER_SECOND)

    def update(self, live: dict[str, float]) -> None:
        """Take the live list over the published one (GPUs it omits keep their price)."""
        if live:
            self._rates = {**PUBLISHED_USD_PER_SECOND, **{k.upper(): v for k, v in live.items()}}

    def rate_for(self, gpu: str | None) -> float | None:
        """USD per second for a GPU; None when the GPU is unknown."""
        return self._rates.get(gpu.upper()) if gpu else None
