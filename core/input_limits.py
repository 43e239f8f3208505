"""Limits that make sense for inputs every image workflow has, when the backend declares none.

A width, height or batch size is a count: it must be positive, and a chat bot should not queue a
run of 100 000 pixels a side. Backends often declare these as bare integers (ComfyDeploy's
`ComfyUIDeployExternalNumberInt` has no bounds), so the catalog fills in the missing limits;
bounds the backend or workflows.catalog.yaml declares win, except that a lower bound never
goes below 1.
"""

from __future__ import annotations

from core.workflow import InputSpec, InputType, Workflow

SIDE_MIN = 16
"""ComfyUI's EmptyLatentImage takes sides of at least 16 pixels."""
SIDE_MAX = 4096
BATCH_MAX = 8
SIZE_NAMES = frozenset({"width", "height"})
BATCH_NAMES = frozenset({"batch_size", "batch"})


def with_default_limits(workflow: Workflow) -> Workflow:
    """The workflow with missing bounds of its size and batch inputs filled in."""
    inputs = tuple(_limited(spec) for spec in workflow.inputs)
    if inputs == workflow.inputs:
        return workflow
    return workflow.model_copy(update={"inputs": inputs})


def _limited(spec: InputSpec) -> InputSpec:
    if spec.type not in (InputType.INTEGER, InputType.NUMBER):
        return spec
    name = spec.name.lower()
    if name in SIZE_NAMES:
        low, high = SIDE_MIN, SIDE_MAX
    elif name in BATCH_NAMES:
        low, high = 1, BATCH_MAX
    else:
        return spec
    changes: dict[str, float] = {}
    if spec.min is None or spec.min < 1:
        changes["min"] = low if spec.min is None else 1
    if spec.max is None:
        changes["max"] = max(high, changes.get("min", spec.min or low))
    return spec.model_copy(update=changes) if changes else spec
