"""ComfyDeploy deployments (+ machines) -> core `Workflow`s and `Deployment`s.

Pure functions over the JSON of `GET /deployments` and `GET /machines` (https://github.com/comfy-deploy/api/blob/main/src/api/routes/deployments.py).
Deployments are grouped by their workflow's name; the `production` one comes first, so routing
and the input schema follow what the owner has promoted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from adapters.comfydeploy.inputs import map_inputs
from core.workflow import Deployment, DeploymentRef, Workflow

SOURCE = "comfydeploy"
COMMAND_MAX = 32
PREFERRED_ENVIRONMENT = "production"


def slug_command(name: str) -> str:
    """Lower-case, runs of anything outside [a-z0-9_] -> one `_`, trimmed, at most 32 chars.

    A name with nothing usable (e.g. only non-Latin letters) gets a stable hash-based slug.
    """
    slug = re.sub(r"[^a-z0-9_]+", "_", name.lower())
    slug = re.sub(r"_+", "_", slug).strip("_")[:COMMAND_MAX].rstrip("_")
    if not slug:
        slug = "wf_" + hashlib.sha1(name.encode()).hexdigest()[:8]
    return slug


def merge_deployments(*lists: Iterable[Any]) -> list[dict[str, Any]]:
    """Concatenate deployment lists, keeping the first copy of each id."""
    seen: set[str] = set()
    merged: list[dict[str, Any]] = []
    for items in lists:
        for item in items:
            if not isinstance(item, dict):
                continue
            dep_id = item.get("id")
            if isinstance(dep_id, str) and dep_id and dep_id not in seen:
                seen.add(dep_id)
                merged.append(item)
    return merged


def machine_gpus(machines: Iterable[Any]) -> dict[str, str]:
    """Machine id -> GPU name, for machines that declare one."""
    gpus: dict[str, str] = {}
    for machine in machines:
        if isinstance(machine, dict):
            mid, gpu = machine.get("id"), machine.get("gpu")
            if isinstance(mid, str) and isinstance(gpu, str) and gpu:
                gpus[mid] = gpu
    return gpus


def build_catalog(
    deployments: Iterable[dict[str, Any]], gpus_by_machine: dict[str, str], backend: str = SOURCE
) -> tuple[list[Workflow], list[Deployment]]:
    """Group deployments by workflow name; the deployment's own `gpu` wins over its machine's.
    `backend` is the name this ComfyDeploy account is registered under."""
    groups: dict[str, list[dict[str, Any]]] = {}
    found: list[Deployment] = []
    for raw in deployments:
        name = _workflow_name(raw)
        machine_id = _str(raw.get("machine_id"))
        gpu = _str(raw.get("gpu")) or (gpus_by_machine.get(machine_id) if machine_id else None)
        found.append(
            Deployment(
                backend=backend, id=raw["id"], workflow_name=name, gpu=gpu, machine_id=machine_id
            )
        )
        groups.setdefault(name, []).append(raw)

    gpu_of = {d.id: d.gpu for d in found}
    workflows: list[Workflow] = []
    for name, raws in groups.items():
        ordered = sorted(raws, key=lambda r: r.get("environment") != PREFERRED_ENVIRONMENT)
        first = ordered[0]
        description = next((d for r in ordered if (d := _str(r.get("description")))), "")
        inputs = first.get("input_types")
        workflows.append(
            Workflow(
                name=name,
                command=slug_command(name),
                description=description,
                deployments=tuple(DeploymentRef(backend=backend, id=r["id"]) for r in ordered),
                inputs=map_inputs(inputs if isinstance(inputs, list) else ()),
                gpu=gpu_of[first["id"]],
                backend=backend,
            )
        )
    return workflows, found


def _workflow_name(raw: dict[str, Any]) -> str:
    workflow = raw.get("workflow")
    name = _str(workflow.get("name")) if isinstance(workflow, dict) else None
    return name or _str(raw.get("workflow_id")) or str(raw["id"])


def _str(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None
