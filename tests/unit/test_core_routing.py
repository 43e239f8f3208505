"""Which deployments a run tries, in order: a weighted pick, the other routed ones, fallbacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from core.routing import Router, RoutingFile
from core.workflow import DeploymentRef, Workflow

OWN = (DeploymentRef(backend="cd", id="own-1"), DeploymentRef(backend="cd", id="own-2"))
FLUX = Workflow(name="flux", command="flux", deployments=OWN)


def make(routes: RoutingFile, pick: Callable[[float], float] | None = None) -> Router:
    return Router(routes, "cd", pick=pick)


def ids(router: Router, workflow: Workflow = FLUX) -> list[str]:
    """The candidates as `backend:id`, in order."""
    return [ref.key for ref in router.candidates(workflow)]


def routing(routes: dict[str, Any]) -> RoutingFile:
    """Parsed the way routing.yaml is: from plain data."""
    return RoutingFile.model_validate({"routes": routes})


def at(fraction: float) -> Callable[[float], float]:
    """A `pick` landing at `fraction` of the total weight."""
    return lambda top: fraction * top


WEIGHTED = routing(
    {
        "flux": {
            "deployments": [{"id": "a", "weight": 3}, {"id": "b", "weight": 1}],
            "fallback": ["c"],
        }
    }
)


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (0.0, ["a", "b", "c"]),
        (0.74, ["a", "b", "c"]),
        (0.75, ["b", "a", "c"]),
        (0.99, ["b", "a", "c"]),
        (1.0, ["b", "a", "c"]),
    ],
)
def test_weighted_pick_goes_first_then_the_others_then_fallback(
    fraction: float, expected: list[str]
) -> None:
    assert ids(make(WEIGHTED, pick=at(fraction))) == [f"cd:{e}" for e in expected]


def test_pick_is_asked_for_a_point_within_the_total_weight() -> None:
    tops: list[float] = []

    def pick(top: float) -> float:
        tops.append(top)
        return 0.0

    ids(make(WEIGHTED, pick=pick))
    assert tops == [4.0]


def test_default_random_pick_returns_every_routed_deployment() -> None:
    candidates = ids(make(WEIGHTED))
    assert sorted(candidates[:2]) == ["cd:a", "cd:b"]
    assert candidates[2:] == ["cd:c"]


def test_fallback_order_is_kept() -> None:
    router = make(
        routing({"flux": {"deployments": [{"id": "a"}], "fallback": ["z", "y", "x"]}}),
        pick=at(0),
    )
    assert ids(router) == ["cd:a", "cd:z", "cd:y", "cd:x"]


def test_workflow_without_a_route_uses_its_own_deployments() -> None:
    assert ids(make(routing({"other": {"deployments": [{"id": "o"}]}}))) == [
        "cd:own-1",
        "cd:own-2",
    ]


def test_route_with_only_fallbacks_adds_them_after_the_workflows_deployments() -> None:
    router = make(routing({"flux": {"fallback": ["spare"]}}))
    assert ids(router) == ["cd:own-1", "cd:own-2", "cd:spare"]


def test_workflow_without_route_or_deployments_has_no_candidates() -> None:
    assert make(routing({})).candidates(Workflow(name="w", command="w")) == []


def test_duplicates_are_removed_keeping_first_place() -> None:
    router = make(
        routing(
            {
                "flux": {
                    "deployments": [{"id": "a"}, {"id": "b"}],
                    "fallback": ["b", "a", "c", "c"],
                }
            }
        ),
        pick=at(0),
    )
    assert ids(router) == ["cd:a", "cd:b", "cd:c"]


def test_duplicates_between_own_deployments_and_fallback_are_removed() -> None:
    router = make(routing({"flux": {"fallback": ["own-2", "spare", "own-1"]}}))
    assert ids(router) == ["cd:own-1", "cd:own-2", "cd:spare"]


def test_a_route_can_span_backends() -> None:
    router = make(
        routing(
            {"flux": {"deployments": [{"id": "rc:fast"}], "fallback": ["own-2", "self:gpu0"]}}
        ),
        pick=at(0),
    )
    assert ids(router) == ["rc:fast", "cd:own-2", "self:gpu0"]


def test_a_bare_id_names_the_workflows_own_deployment_on_any_backend() -> None:
    mixed = FLUX.model_copy(update={"deployments": (DeploymentRef(backend="rc", id="x"),)})
    router = make(routing({"flux": {"deployments": [{"id": "x"}], "fallback": ["y"]}}), pick=at(0))
    assert ids(router, mixed) == ["rc:x", "cd:y"]


@pytest.mark.parametrize("weight", [0, -1])
def test_weights_must_be_positive(weight: float) -> None:
    with pytest.raises(ValidationError):
        routing({"flux": {"deployments": [{"id": "a", "weight": weight}]}})


def test_unknown_keys_in_routing_file_are_refused() -> None:
    with pytest.raises(ValidationError):
        routing({"flux": {"deployment": [{"id": "a"}]}})
