"""The workflow catalog: discover from every backend, merge the catalog file, index, persist.

The catalog serves from memory; a snapshot per backend in the database lets the bot start and
serve while a backend is down. A workflow offered by several backends under one name is one
workflow with deployments on each (the first backend's inputs). Listeners hear of a change only
when the merged catalog actually differs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.backends import BackendRegistry
from core.errors import BackendError
from core.input_limits import with_default_limits
from core.ports import CatalogStore, Clock
from core.workflow import (
    Deployment,
    DeploymentRef,
    Discovery,
    InputSpec,
    InputType,
    NodeBinding,
    Workflow,
)

log = logging.getLogger(__name__)

ChangeListener = Callable[["CatalogView"], Awaitable[None]]


class InputOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = None
    type: InputType | None = None
    required: bool | None = None
    default: Any = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[str, ...] | None = None
    description: str | None = None
    max_length: int | None = None
    bind: tuple[NodeBinding, ...] | None = None
    seed: bool | None = None
    """`true`: a random seed when none is given; `false`: an input named `seed` that is not."""


class WorkflowOverride(BaseModel):
    """An entry of workflows.catalog.yaml; with deployment_ids and typed inputs it stands alone."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    command: str | None = None
    description: str | None = None
    hidden: bool | None = None
    gpu: str | None = None
    deployment_ids: tuple[str, ...] | None = None
    """`backend:id`, or a bare id on the first configured backend."""
    upscale_with: str | None = None
    """A workflow taking an image that upscales this one's results (an Upscale button)."""
    vary_with: str | None = None
    """A workflow taking an image that makes variations of this one's results (a Vary button)."""
    expected_seconds: float | None = Field(default=None, gt=0)
    """GPU seconds a run usually takes: what its price is quoted from."""
    menu_priority: int | None = None
    """Higher first into command menus that cannot hold every workflow."""
    inputs: dict[str, InputOverride] = {}


class CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflows: dict[str, WorkflowOverride] = {}


class CatalogView:
    """An immutable, indexed catalog: workflows by name, deployments by `backend:id`.

    Compare views by identity: a refresh that changes nothing keeps the same view object."""

    def __init__(self, workflows: Iterable[Workflow], deployments: Iterable[Deployment]) -> None:
        self.workflows = tuple(sorted(workflows, key=lambda w: w.name))
        self.deployments = {d.ref.key: d for d in deployments}
        self._by_name = {w.name: w for w in self.workflows}

    def get(self, name: str) -> Workflow | None:
        return self._by_name.get(name)

    def visible(self) -> list[Workflow]:
        return [w for w in self.workflows if not w.hidden]

    def fingerprint(self) -> str:
        """Everything users and routing see, serialised once per refresh to detect a change."""
        parts = [w.model_dump_json() for w in self.workflows]
        parts += [self.deployments[k].model_dump_json() for k in sorted(self.deployments)]
        return "\n".join(parts)


class Catalog:
    def __init__(
        self,
        backends: BackendRegistry,
        store: CatalogStore,
        catalog_file: CatalogFile,
        clock: Clock,
        ttl: timedelta,
    ) -> None:
        self._backends = backends
        self._store = store
        self._file = catalog_file
        self._clock = clock
        self._ttl = ttl
        self._discovered: dict[str, Discovery] = {}
        self._view = self._build()
        self._fetched_at: datetime | None = None
        self._listeners: list[ChangeListener] = []
        self._lock = asyncio.Lock()
        self.last_error: str | None = None
        self.failures: dict[str, BackendError] = {}
        """Backend name -> why its last discovery failed."""

    @property
    def view(self) -> CatalogView:
        return self._view

    def on_change(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        """Serve the stored snapshots at once, then try the backends."""
        snapshots = await self._store.load_snapshots()
        names = {backend.name for backend in self._backends}
        self._discovered = {name: found for name, found in snapshots.items() if name in names}
        self._view = self._build()
        await self.refresh()

    def _build(self) -> CatalogView:
        ordered = [self._discovered[b.name] for b in self._backends if b.name in self._discovered]
        merged = merge_catalog(merge_backends(ordered), self._file, self._backends.default.name)
        workflows = [with_default_limits(workflow) for workflow in merged]
        return CatalogView(workflows, [d for found in ordered for d in found.deployments])

    async def refresh(self, force: bool = True) -> bool:
        """Discover again (when forced or stale); True when the catalog changed. A backend that
        fails keeps serving its last discovery; `last_error` says which failed and why."""
        async with self._lock:
            now = self._clock.now()
            if not force and self._fetched_at and now - self._fetched_at < self._ttl:
                return False
            backends = list(self._backends)
            results = await asyncio.gather(
                *(backend.discover() for backend in backends), return_exceptions=True
            )
            errors: list[str] = []
            fresh: dict[str, Discovery] = {}
            self.failures = {}
            for backend, result in zip(backends, results, strict=True):
                if isinstance(result, BackendError):
                    self.failures[backend.name] = result
                    errors.append(f"{backend.name}: {result}")
                    log.warning(
                        "discovery on %s failed, serving its last snapshot: %s",
                        backend.name,
                        result,
                    )
                elif isinstance(result, BaseException):
                    raise result
                else:
                    fresh[backend.name] = result
            self.last_error = "; ".join(errors) or None
            if not fresh:
                return False
            self._fetched_at = now
            changed = {n: d for n, d in fresh.items() if self._discovered.get(n) != d}
            self._discovered.update(fresh)
            view = self._build()
            if view.fingerprint() == self._view.fingerprint():
                return False
            self._view = view
            for name, discovery in changed.items():
                await self._store.save_snapshot(name, discovery)
        await self._announce(view)
        return True

    async def reload(self) -> bool:
        """Take up the snapshots another process discovered (with several instances one
        refreshes, the others reload); True when the catalog changed."""
        async with self._lock:
            snapshots = await self._store.load_snapshots()
            names = {backend.name for backend in self._backends}
            found = {name: d for name, d in snapshots.items() if name in names}
            if all(self._discovered.get(name) == d for name, d in found.items()):
                return False
            self._discovered.update(found)
            view = self._build()
            if view.fingerprint() == self._view.fingerprint():
                return False
            self._view = view
        await self._announce(view)
        return True

    async def _announce(self, view: CatalogView) -> None:
        log.info("catalog changed: %d workflows", len(view.workflows))
        for listener in self._listeners:
            try:
                await listener(view)
            except Exception:
                log.exception("catalog change listener failed")


def merge_backends(discoveries: Iterable[Discovery]) -> list[Workflow]:
    """One workflow per name: the first backend's, with the deployments of every backend."""
    merged: dict[str, Workflow] = {}
    for discovery in discoveries:
        for workflow in discovery.workflows:
            first = merged.get(workflow.name)
            if first is None:
                merged[workflow.name] = workflow
                continue
            extra = tuple(d for d in workflow.deployments if d not in first.deployments)
            merged[workflow.name] = first.model_copy(
                update={"deployments": first.deployments + extra}
            )
    return list(merged.values())


def merge_catalog(
    discovered: Iterable[Workflow], catalog_file: CatalogFile, default_backend: str
) -> list[Workflow]:
    """Apply the catalog file to what was discovered; add its stand-alone entries."""
    merged: dict[str, Workflow] = {w.name: w for w in discovered}
    for name, override in catalog_file.workflows.items():
        base = merged.get(name)
        if base is None:
            if not override.deployment_ids:
                continue
            base = Workflow(name=name, command=name)
        merged[name] = _apply(base, override, default_backend)
    return list(merged.values())


def _apply(workflow: Workflow, override: WorkflowOverride, default_backend: str) -> Workflow:
    inputs = {i.name: i for i in workflow.inputs}
    for name, change in override.inputs.items():
        current = inputs.get(name)
        if current is None:
            if change.type is None:
                continue
            current = InputSpec(name=name, type=change.type)
        changes = change.model_dump(exclude_unset=True)
        inputs[name] = InputSpec.model_validate({**current.model_dump(), **changes})
    fields: dict[str, Any] = {
        k: v
        for k, v in override.model_dump(exclude_unset=True, exclude={"inputs"}).items()
        if v is not None
    }
    ids = fields.pop("deployment_ids", None)
    if ids is not None:
        fields["deployments"] = tuple(DeploymentRef.parse(i, default_backend) for i in ids)
    return workflow.model_copy(update={**fields, "inputs": tuple(inputs.values())})
