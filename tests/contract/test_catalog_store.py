"""CatalogStore contract: the snapshot round-trips exactly."""

from __future__ import annotations

from core.models import Deployment, InputSpec, InputType, Workflow
from core.ports import CatalogStore

WORKFLOWS = [
    Workflow(
        name="flux",
        command="flux",
        description="Text to image",
        deployment_ids=("dep-1", "dep-2"),
        inputs=(
            InputSpec(name="prompt", type=InputType.TEXT, required=True, max_length=500),
            InputSpec(name="steps", type=InputType.INTEGER, default=20, min=1, max=50),
            InputSpec(name="style", type=InputType.CHOICE, choices=("a", "b")),
            InputSpec(name="image", type=InputType.IMAGE),
        ),
        gpu="A10G",
    ),
    Workflow(name="upscale", command="upscale", hidden=True, source="catalog"),
]
DEPLOYMENTS = [
    Deployment(id="dep-1", workflow_name="flux", gpu="A10G", machine_id="m-1"),
    Deployment(id="dep-2", workflow_name="flux"),
]


async def test_snapshot_round_trip(catalog_store: CatalogStore) -> None:
    assert await catalog_store.load_snapshot() is None
    await catalog_store.save_snapshot(WORKFLOWS, DEPLOYMENTS)
    assert await catalog_store.load_snapshot() == (WORKFLOWS, DEPLOYMENTS)


async def test_snapshot_is_replaced(catalog_store: CatalogStore) -> None:
    await catalog_store.save_snapshot(WORKFLOWS, DEPLOYMENTS)
    await catalog_store.save_snapshot(WORKFLOWS[1:], [])
    assert await catalog_store.load_snapshot() == (WORKFLOWS[1:], [])
