"""CatalogStore contract: each backend's snapshot round-trips exactly and is kept apart."""

from __future__ import annotations

from core.ports import CatalogStore
from core.workflow import (
    Deployment,
    DeploymentRef,
    Discovery,
    InputSpec,
    InputType,
    NodeBinding,
    Workflow,
)

REFS = (DeploymentRef(backend="cd", id="dep-1"), DeploymentRef(backend="cd", id="dep-2"))
FLUX = Workflow(
    name="flux",
    command="flux",
    description="Text to image",
    deployments=REFS,
    inputs=(
        InputSpec(name="prompt", type=InputType.TEXT, required=True, max_length=500),
        InputSpec(name="steps", type=InputType.INTEGER, default=20, min=1, max=50),
        InputSpec(name="style", type=InputType.CHOICE, choices=("a", "b")),
        InputSpec(
            name="image", type=InputType.IMAGE, bind=(NodeBinding(node_id="10", field="image"),)
        ),
    ),
    gpu="A10G",
    backend="cd",
)
ONE = Discovery(
    workflows=(FLUX, Workflow(name="upscale", command="upscale", hidden=True)),
    deployments=(
        Deployment(backend="cd", id="dep-1", workflow_name="flux", gpu="A10G", machine_id="m-1"),
        Deployment(backend="cd", id="dep-2", workflow_name="flux"),
    ),
)
OTHER = Discovery(workflows=(FLUX.model_copy(update={"backend": "rc"}),))


async def test_snapshots_round_trip_per_backend(catalog_store: CatalogStore) -> None:
    assert await catalog_store.load_snapshots() == {}
    await catalog_store.save_snapshot("cd", ONE)
    await catalog_store.save_snapshot("rc", OTHER)
    assert await catalog_store.load_snapshots() == {"cd": ONE, "rc": OTHER}


async def test_a_snapshot_is_replaced(catalog_store: CatalogStore) -> None:
    await catalog_store.save_snapshot("cd", ONE)
    await catalog_store.save_snapshot("cd", OTHER)
    assert await catalog_store.load_snapshots() == {"cd": OTHER}
