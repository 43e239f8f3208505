"""The workflow cache manager: discover from the backend, merge the catalog file, index, persist.

The catalog serves from memory; a snapshot in the database lets the bot start and serve while the
backend is down. Listeners hear of a change only when the compiled catalog actually differs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.errors import BackendError
from core.models import Deployment, InputSpec, InputType, Workflow
from core.ports import CatalogStore, Clock, WorkflowBackend

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


class WorkflowOverride(BaseModel):
    """An entry of workflows.catalog.yaml; with deployment_ids and typed inputs it stands alone."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    command: str | None = None
    description: str | None = None
    hidden: bool | None = None
    gpu: str | None = None
    deployment_ids: tuple[str, ...] | None = None
    inputs: dict[str, InputOverride] = {}


class CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflows: dict[str, WorkflowOverride] = {}


class CatalogView:
    """An immutable, indexed catalog: by name, by command and by deployment."""

    def __init__(self, workflows: Iterable[Workflow], deployments: Iterable[Deployment]) -> None:
        self.workflows = tuple(sorted(workflows, key=lambda w: w.name))
        self.deployments = {d.id: d for d in deployments}
        self._by_name = {w.name: w for w in self.workflows}
        self._by_command = {w.command.lower(): w for w in self.workflows}
        self._by_deployment = {d: w for w in self.workflows for d in w.deployment_ids}

    def get(self, name: str) -> Workflow | None:
        return self._by_name.get(name)

    def by_command(self, command: str) -> Workflow | None:
        return self._by_command.get(command.lower())

    def by_deployment(self, deployment_id: str) -> Workflow | None:
        return self._by_deployment.get(deployment_id)

    def visible(self) -> list[Workflow]:
        return [w for w in self.workflows if not w.hidden]

    def fingerprint(self) -> str:
        parts = [w.model_dump_json() for w in self.workflows]
        parts += [self.deployments[k].model_dump_json() for k in sorted(self.deployments)]
        return "\n".join(parts)


class Catalog:
    def __init__(
        self,
        backend: WorkflowBackend,
        store: CatalogStore,
        catalog_file: CatalogFile,
        clock: Clock,
        ttl: timedelta,
    ) -> None:
        self._backend = backend
        self._store = store
        self._file = catalog_file
        self._clock = clock
        self._ttl = ttl
        self._view = CatalogView(merge_catalog([], catalog_file), [])
        self._fetched_at: datetime | None = None
        self._listeners: list[ChangeListener] = []
        self._lock = asyncio.Lock()
        self.last_error: str | None = None

    @property
    def view(self) -> CatalogView:
        return self._view

    def on_change(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        """Serve the stored snapshot at once, then try the backend."""
        snapshot = await self._store.load_snapshot()
        if snapshot is not None:
            discovered, deployments = snapshot
            self._view = CatalogView(merge_catalog(discovered, self._file), deployments)
        await self.refresh()

    async def refresh(self, force: bool = True) -> bool:
        """Discover again (when forced or stale); True when the catalog changed."""
        async with self._lock:
            now = self._clock.now()
            if not force and self._fetched_at and now - self._fetched_at < self._ttl:
                return False
            try:
                discovered, deployments = await self._backend.list_workflows()
            except BackendError as error:
                self.last_error = str(error)
                log.warning("catalog refresh failed, serving the last snapshot: %s", error)
                return False
            self.last_error = None
            self._fetched_at = now
            view = CatalogView(merge_catalog(discovered, self._file), deployments)
            if view.fingerprint() == self._view.fingerprint():
                return False
            self._view = view
            await self._store.save_snapshot(discovered, deployments)
        log.info("catalog changed: %d workflows", len(view.workflows))
        for listener in self._listeners:
            try:
                await listener(view)
            except Exception:
                log.exception("catalog change listener failed")
        return True


def merge_catalog(discovered: Iterable[Workflow], catalog_file: CatalogFile) -> list[Workflow]:
    """Apply the catalog file to what was discovered; add its stand-alone entries."""
    merged: dict[str, Workflow] = {w.name: w for w in discovered}
    for name, override in catalog_file.workflows.items():
        base = merged.get(name)
        if base is None:
            if not override.deployment_ids:
                continue
            base = Workflow(name=name, command=name, source="catalog")
        merged[name] = _apply(base, override)
    return list(merged.values())


def _apply(workflow: Workflow, override: WorkflowOverride) -> Workflow:
    inputs = {i.name: i for i in workflow.inputs}
    for name, change in override.inputs.items():
        current = inputs.get(name)
        if current is None:
            if change.type is None:
                continue
            current = InputSpec(name=name, type=change.type)
        inputs[name] = current.model_copy(update=change.model_dump(exclude_unset=True))
    fields: dict[str, Any] = {
        k: v
        for k, v in override.model_dump(exclude_unset=True, exclude={"inputs"}).items()
        if v is not None
    }
    if "deployment_ids" in fields:
        fields["deployment_ids"] = tuple(fields["deployment_ids"])
    return workflow.model_copy(update={**fields, "inputs": tuple(inputs.values())})
