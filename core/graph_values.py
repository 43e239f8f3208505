"""Where a run's values go in an API-format graph, for the backends that run graphs: each input's
bindings resolved against the graph at hand, a random seed for each seed the run leaves out
(as ComfyDeploy does), and every value checked to have a place (see `core.graph_inputs`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import BackendUnavailable
from core.graph_inputs import Graph, bindable
from core.workflow import InputSpec, InputType, NodeBinding

SEED_FIELDS = frozenset({"seed", "noise_seed"})
SEED_RANGE = 2**32
"""Random seeds are drawn below this (every sampler accepts them)."""


def resolve_bindings(
    graph: Graph | None, specs: Iterable[InputSpec], own: Iterable[InputSpec]
) -> dict[str, tuple[NodeBinding, ...]]:
    """Where each input's value goes in this graph: the run's own bindings (the catalog file
    may set them) when they all fit the graph, else this backend's bindings of an input of
    the same name. Without the graph the run's bindings are taken as they are."""
    mine = {spec.name: spec.bind for spec in own if spec.bind}
    resolved: dict[str, tuple[NodeBinding, ...]] = {}
    for spec in specs:
        fits = spec.bind and (graph is None or all(bindable(graph, b) for b in spec.bind))
        chosen = spec.bind if fits else mine.get(spec.name, ())
        if chosen:
            resolved[spec.name] = chosen
    for name, bind in mine.items():
        resolved.setdefault(name, bind)
    return resolved


def random_seeds(
    bindings: Mapping[str, tuple[NodeBinding, ...]],
    values: Mapping[str, Any],
    draw: Callable[[int], int],
) -> dict[str, int]:
    """A random seed for every seed input the run does not set (`draw(n)` is below n)."""
    return {
        name: draw(SEED_RANGE)
        for name, bind in bindings.items()
        if name not in values and bind and all(b.field in SEED_FIELDS for b in bind)
    }


@dataclass(frozen=True)
class Placement:
    """One value of a run, and where in the graph it goes."""

    binding: NodeBinding
    value: Any
    type: InputType


def place_values(
    graph: Graph | None,
    specs: Iterable[InputSpec],
    own: Iterable[InputSpec],
    values: Mapping[str, Any],
    draw: Callable[[int], int],
) -> list[Placement]:
    """Where each of a run's values (and a random seed for each seed not given) is written.

    Raises `BackendUnavailable` when a value has no place in this graph: the workflow's inputs
    came from another backend's graph, and another deployment may take the run."""
    specs, own = list(specs), list(own)
    bindings = resolve_bindings(graph, specs, own)
    kinds = {spec.name: spec.type for spec in (*own, *specs)}
    placed = []
    for name, value in {**values, **random_seeds(bindings, values, draw)}.items():
        bind = bindings.get(name, ())
        if not bind or (graph is not None and not all(bindable(graph, b) for b in bind)):
            raise BackendUnavailable(
                f"input {name} has no place in this graph", notice="submit.input_unsupported"
            )
        placed += [Placement(b, value, kinds.get(name, InputType.TEXT)) for b in bind]
    return placed
