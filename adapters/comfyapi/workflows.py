"""Workflows of a Comfy API v2 backend: API-format graph files in one folder, one per workflow.

`<folder>/<name>.json` is the workflow `name`, exported from ComfyUI with "Export (API)"
(https://docs.comfy.org/development/comfyui-server/comms_routes): `{node_id: {class_type,
inputs, _meta}}`. Its inputs are found in the graph (`core.graph_inputs`); the catalog file may
rename, limit or rebind them. Each workflow is one deployment, whose id is the workflow's name.
A file that is not an API-format graph is skipped with a warning naming it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import BackendError
from core.graph_inputs import derive_inputs, media_loaders
from core.workflow import Deployment, DeploymentRef, Discovery, InputSpec, Workflow

log = logging.getLogger(__name__)

MAX_GRAPH_BYTES = 5_000_000


@dataclass(frozen=True)
class GraphFile:
    name: str
    graph: dict[str, Any]
    inputs: tuple[InputSpec, ...]


def read_graphs(folder: Path) -> dict[str, GraphFile]:
    """Every usable graph in `folder`, by workflow name (blocking: call it in a thread)."""
    if not folder.is_dir():
        raise BackendError(f"the workflows folder {folder} does not exist")
    found: dict[str, GraphFile] = {}
    for path in sorted(folder.glob("*.json")):
        graph = read_graph(path)
        if graph is not None:
            found[path.stem] = GraphFile(path.stem, graph, derive_inputs(graph))
    return found


def read_graph(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > MAX_GRAPH_BYTES:
            log.warning("comfyapi: %s is larger than %d bytes; skipped", path, MAX_GRAPH_BYTES)
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        log.warning("comfyapi: cannot read %s (%s); skipped", path, error)
        return None
    if not is_api_graph(data):
        log.warning("comfyapi: %s is not an API-format graph (Export (API)); skipped", path)
        return None
    assert isinstance(data, dict)
    return data


def is_api_graph(data: Any) -> bool:
    """`{node_id: {class_type, inputs}}`, not the UI's `{nodes: [...], links: [...]}`."""
    return (
        isinstance(data, dict)
        and bool(data)
        and all(
            isinstance(node, dict)
            and isinstance(node.get("class_type"), str)
            and isinstance(node.get("inputs", {}), dict)
            for node in data.values()
        )
    )


def discovery_of(graphs: dict[str, GraphFile], backend: str) -> Discovery:
    workflows = []
    deployments = []
    for name, found in graphs.items():
        workflows.append(
            Workflow(
                name=name,
                command=name,
                deployments=(DeploymentRef(backend=backend, id=name),),
                inputs=found.inputs,
                backend=backend,
                media_loaders=media_loaders(found.graph),
            )
        )
        deployments.append(Deployment(backend=backend, id=name, workflow_name=name))
    return Discovery(workflows=tuple(workflows), deployments=tuple(deployments))
