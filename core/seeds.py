"""Random seeds: a workflow's seed input gets a fresh value when the user gives none or `-1`,
so the same prompt twice gives two pictures, and the seed is kept on the run to repeat it.

ComfyUI's KSampler takes any 64-bit seed; a value up to 2^32 - 1 is short enough to read and
type back, as Midjourney's `--seed` (0-4294967295) does.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

from core.workflow import InputSpec, Workflow

SEED_MAX = 2**32 - 1
RANDOM_SEED = -1
"""What a user types to ask for a random seed explicitly (ComfyUI front ends use -1 too)."""

Draw = Callable[[int, int], int]
"""A random integer in [low, high]."""


def draw_seed(low: int, high: int) -> int:
    return low + secrets.randbelow(high - low + 1)


def asks_random(value: object) -> bool:
    """`-1`, typed or as text: a random seed, please."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value == RANDOM_SEED
    return isinstance(value, str) and value.strip() == str(RANDOM_SEED)


def without_random_request(workflow: Workflow, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs without a `-1` seed (it is drawn after validation, not validated)."""
    spec = workflow.seed_input
    values = dict(inputs)
    if spec is not None and asks_random(values.get(spec.name)):
        del values[spec.name]
    return values


def with_seed(
    workflow: Workflow, values: Mapping[str, Any], draw: Draw = draw_seed
) -> dict[str, Any]:
    """The values with the seed drawn when none was given; unchanged for other workflows."""
    spec = workflow.seed_input
    result = dict(values)
    if spec is not None and spec.name not in result:
        result[spec.name] = new_seed(spec, draw)
    return result


def reseeded(
    workflow: Workflow, values: Mapping[str, Any], draw: Draw = draw_seed
) -> dict[str, Any]:
    """The same values with a new seed (a reroll)."""
    spec = workflow.seed_input
    result = dict(values)
    if spec is not None:
        result[spec.name] = new_seed(spec, draw)
    return result


def new_seed(spec: InputSpec, draw: Draw = draw_seed) -> int:
    """A seed within the input's bounds (and within 0 … 2^32 - 1 when it has none)."""
    low = max(0, int(spec.min)) if spec.min is not None else 0
    high = min(SEED_MAX, int(spec.max)) if spec.max is not None else SEED_MAX
    return draw(low, max(low, high))
