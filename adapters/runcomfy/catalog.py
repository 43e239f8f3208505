"""RunComfy deployments -> core `Workflow`s and `Deployment`s. Pure.

A deployment (`GET /prod/v2/deployments?includes=payload`, https://docs.runcomfy.com/mcp/
tool-reference) carries `id, name, hardware [SKU], min_instances, is_enabled …` and a `payload`
with the saved graph (`workflow_api_json`) and the `overrides` chosen when deploying: the node
fields a request may set, so the inputs are those fields (`core.graph_inputs`). Deployments
sharing a name are one workflow. Switched-off deployments are left out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from core.graph_inputs import derive_inputs, media_loaders
from core.workflow import Deployment, DeploymentRef, Discovery, InputSpec, Workflow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeploymentGraph:
    """What a submit needs to know of a deployment."""

    graph: dict[str, Any] | None
    inputs: tuple[InputSpec, ...]
    scales_to_zero: bool
    """No warm instance is kept (`min_instances: 0`): a request may wait for a cold start."""


def build_catalog(
    deployments: list[dict[str, Any]], backend: str
) -> tuple[Discovery, dict[str, DeploymentGraph]]:
    workflows: dict[str, Workflow] = {}
    found: list[Deployment] = []
    graphs: dict[str, DeploymentGraph] = {}
    for raw in deployments:
        dep_id, name = raw.get("id"), raw.get("name")
        if not isinstance(dep_id, str) or not dep_id:
            continue
        if raw.get("is_enabled") is False:
            log.info("runcomfy: deployment %s is switched off; not offered", dep_id)
            continue
        name = name.strip() if isinstance(name, str) and name.strip() else dep_id
        graph, exposed = _payload(raw.get("payload"))
        inputs = derive_inputs(graph, exposed) if graph is not None else ()
        tier = _tier(raw.get("hardware"))
        minimum = raw.get("min_instances")
        graphs[dep_id] = DeploymentGraph(graph, inputs, not minimum)
        found.append(Deployment(backend=backend, id=dep_id, workflow_name=name, gpu=tier))
        ref = DeploymentRef(backend=backend, id=dep_id)
        first = workflows.get(name)
        if first is not None:
            workflows[name] = first.model_copy(update={"deployments": (*first.deployments, ref)})
            continue
        workflows[name] = Workflow(
            name=name,
            command=name,
            deployments=(ref,),
            inputs=inputs,
            gpu=tier,
            backend=backend,
            media_loaders=media_loaders(graph) if graph is not None else (),
        )
    discovery = Discovery(workflows=tuple(workflows.values()), deployments=tuple(found))
    return discovery, graphs


def _payload(payload: Any) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    if not isinstance(payload, dict):
        return None, []
    graph = payload.get("workflow_api_json")
    if not isinstance(graph, dict) or not all(isinstance(n, dict) for n in graph.values()):
        return None, []
    overrides = payload.get("overrides")
    exposed = [
        (str(node_id), str(field))
        for node_id, patch in (overrides.items() if isinstance(overrides, dict) else ())
        if isinstance(patch, dict) and isinstance(patch.get("inputs"), dict)
        for field in patch["inputs"]
    ]
    return graph, exposed


def _tier(hardware: Any) -> str | None:
    """The deployment's hardware SKU (`AMPERE_24` …): a list of one, or a string."""
    if isinstance(hardware, list):
        hardware = next((h for h in hardware if isinstance(h, str) and h), None)
    return hardware.strip().upper() if isinstance(hardware, str) and hardware.strip() else None
