"""routing.yaml: which deployment(s) run a workflow, with weights and a fallback order.

Deployments are named `backend:id`, or by a bare id: one of the workflow's own deployments with
that id, else that id on the first configured backend."""

from __future__ import annotations

import random
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from core.workflow import DeploymentRef, Workflow


class WeightedDeployment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    weight: float = Field(default=1.0, gt=0)


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deployments: tuple[WeightedDeployment, ...] = ()
    fallback: tuple[str, ...] = ()


class RoutingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routes: dict[str, Route] = {}


class Router:
    """Orders the deployments to try: one weighted pick, then the rest, then the fallbacks."""

    def __init__(
        self,
        routing: RoutingFile,
        default_backend: str,
        pick: Callable[[float], float] | None = None,
    ) -> None:
        self._routes = routing.routes
        self._default = default_backend
        self._uniform = pick or (lambda top: random.uniform(0, top))

    def candidates(self, workflow: Workflow) -> list[DeploymentRef]:
        route = self._routes.get(workflow.name)
        if route is None or not route.deployments:
            fallback = [self._ref(i, workflow) for i in (route.fallback if route else ())]
            return _unique([*workflow.deployments, *fallback])
        picked = self._weighted_pick(route.deployments)
        others = [d.id for d in route.deployments if d.id != picked]
        return _unique([self._ref(i, workflow) for i in (picked, *others, *route.fallback)])

    def _ref(self, text: str, workflow: Workflow) -> DeploymentRef:
        own = [ref for ref in workflow.deployments if text in (ref.id, ref.key)]
        return own[0] if own else DeploymentRef.parse(text, self._default)

    def _weighted_pick(self, options: tuple[WeightedDeployment, ...]) -> str:
        point = self._uniform(sum(o.weight for o in options))
        for option in options:
            point -= option.weight
            if point < 0:
                return option.id
        return options[-1].id


def _unique(refs: list[DeploymentRef]) -> list[DeploymentRef]:
    return list(dict.fromkeys(refs))
