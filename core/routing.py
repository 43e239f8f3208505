"""routing.yaml: which deployment(s) run a workflow, with weights and a fallback order."""

from __future__ import annotations

import random
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from core.models import Workflow


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

    def __init__(self, routing: RoutingFile, pick: Callable[[float], float] | None = None) -> None:
        self._routes = routing.routes
        self._uniform = pick or (lambda top: random.uniform(0, top))

    def candidates(self, workflow: Workflow) -> list[str]:
        route = self._routes.get(workflow.name)
        if route is None or not route.deployments:
            fallback = route.fallback if route else ()
            return _unique([*workflow.deployment_ids, *fallback])
        first = self._weighted_pick(route.deployments)
        others = [d.id for d in route.deployments if d.id != first]
        return _unique([first, *others, *route.fallback])

    def _weighted_pick(self, options: tuple[WeightedDeployment, ...]) -> str:
        point = self._uniform(sum(o.weight for o in options))
        for option in options:
            point -= option.weight
            if point < 0:
                return option.id
        return options[-1].id


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))
