"""What runs cost: each backend prices its own deployments (ComfyDeploy by GPU, RunComfy by
hardware tier, a self-hosted ComfyUI at zero); the rate is fixed when a run is submitted and the
final cost is rate x billed seconds, recorded when the run ends."""

from __future__ import annotations

import logging

from core.backends import BackendRegistry
from core.catalog import Catalog
from core.errors import BackendError
from core.workflow import Deployment, DeploymentRef, Workflow

log = logging.getLogger(__name__)


class CostService:
    def __init__(self, backends: BackendRegistry, catalog: Catalog) -> None:
        self._backends = backends
        self._catalog = catalog

    async def refresh(self) -> None:
        """Fetch every backend's price list; a backend that fails keeps its last one."""
        for backend in self._backends:
            try:
                await backend.refresh_prices()
            except BackendError as error:
                log.warning(
                    "prices of %s unavailable, keeping the last ones: %s", backend.name, error
                )

    def deployment(self, ref: DeploymentRef, workflow: Workflow) -> Deployment:
        """The deployment as discovered, else as the catalog file declares it (its GPU)."""
        found = self._catalog.view.deployments.get(ref.key)
        gpu = (found.gpu if found else None) or workflow.gpu
        return Deployment(
            backend=ref.backend,
            id=ref.id,
            workflow_name=workflow.name,
            gpu=gpu,
            machine_id=found.machine_id if found else None,
        )

    def rate_for(self, deployment: Deployment) -> float | None:
        """USD per second on that deployment; None when its backend cannot say."""
        try:
            backend = self._backends.get(deployment.backend)
        except BackendError:
            return None
        return backend.usd_per_second(deployment)
