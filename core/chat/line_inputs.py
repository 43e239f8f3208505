"""A command line's parts -> one workflow's inputs, the way people type them.

Keys match input names in any case. `--ar 16:9` becomes width and height (keeping the pixel
count of the workflow's default size) when the workflow has them; `--no trees` goes to the
negative prompt (after its default). An unknown `key=value` inside free text (words follow it)
stays free text (`E=mc2 poster`) unless the key is close to an input name (then: did you mean
…); an unknown `--key`, one among the options after the text, or any unknown option of a
workflow that takes no free text, is a problem.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field

from core.chat.command_line import Given, Part, Word
from core.notices import Problem
from core.requests import InputValue
from core.validation import FALSE_WORDS, TRUE_WORDS
from core.workflow import InputSpec, InputType, Workflow

RATIO_KEYS = frozenset({"ar", "aspect", "aspect_ratio"})
NEGATIVE_KEYS = frozenset({"no"})
CLOSE_ENOUGH = 0.75
"""difflib's similarity ratio from which an unknown key is taken for a typo."""
DEFAULT_SIDE = 1024
SIDE_STEP = 8
"""Latent images have sides in multiples of 8 pixels."""
_RATIO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[:x×/]\s*(\d+(?:\.\d+)?)\s*$")


@dataclass
class LineInputs:
    inputs: dict[str, InputValue] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    prose: list[str] = field(default_factory=list)
    """Free text, in order, with the options that turned out to be prose put back."""


def read_inputs(workflow: Workflow, parts: tuple[Part, ...]) -> LineInputs:
    found = LineInputs()
    names = {spec.name.lower(): spec for spec in workflow.inputs}
    ratio: Given | None = None
    negatives: list[str] = []
    seen: set[str] = set()
    takes_prose = workflow.main_text_input is not None
    last_word = max((i for i, part in enumerate(parts) if isinstance(part, Word)), default=-1)
    for index, part in enumerate(parts):
        if isinstance(part, Word):
            found.prose.append(part.text)
            continue
        spec = names.get(part.key)
        if spec is None and part.key in RATIO_KEYS:
            ratio = part
        elif spec is None and part.key in NEGATIVE_KEYS:
            negatives.append(part.value or "")
        elif spec is not None:
            _assign(found, spec, part, seen)
        elif part.dashed or not takes_prose or index > last_word or _close(part.key, names):
            found.problems.append(_unknown(part.key, workflow))
        else:  # inside the prose, and no typo of an input: it is prose
            found.prose.append(part.raw)
    if negatives:
        _negative(found, workflow, " ".join(n for n in negatives if n))
    if ratio is not None:
        _ratio(found, workflow, ratio)
    return found


def _assign(found: LineInputs, spec: InputSpec, part: Given, seen: set[str]) -> None:
    if spec.name in seen:
        found.problems.append(Problem.of("input.duplicate", spec.name))
    seen.add(spec.name)
    value = part.value
    flag = spec.type is InputType.BOOLEAN and part.dashed
    if flag and (value is None or value.lower() not in TRUE_WORDS | FALSE_WORDS):
        if part.value_raw is not None:  # `--hires a cat`: the flag, then prose
            found.prose.append(part.value_raw)
        value = "true"
    if value is None:
        found.problems.append(Problem.of("input.no_value", spec.name))
        return
    found.inputs[spec.name] = value


def _close(key: str, names: dict[str, InputSpec]) -> bool:
    return bool(difflib.get_close_matches(key, names, n=1, cutoff=CLOSE_ENOUGH))


def _unknown(key: str, workflow: Workflow) -> Problem:
    names = [spec.name for spec in workflow.inputs]
    close = difflib.get_close_matches(key, [n.lower() for n in names], n=1, cutoff=CLOSE_ENOUGH)
    if close:
        suggestion = next(n for n in names if n.lower() == close[0])
        return Problem.of("input.did_you_mean", key, suggestion=suggestion)
    return Problem.of("input.unknown", key, known=", ".join(names) or "-")


def _negative(found: LineInputs, workflow: Workflow, text: str) -> None:
    spec = next(
        (s for s in workflow.inputs if s.type is InputType.TEXT and "negative" in s.name.lower()),
        None,
    )
    if spec is None:
        found.problems.append(Problem.of("input.no_negative", "no"))
        return
    before = found.inputs.get(spec.name, spec.default)
    earlier = str(before).strip() if isinstance(before, str) else ""
    found.inputs[spec.name] = ", ".join(p for p in (earlier, text) if p)


def _ratio(found: LineInputs, workflow: Workflow, given: Given) -> None:
    sides = {spec.name.lower(): spec for spec in workflow.inputs}
    width, height = sides.get("width"), sides.get("height")
    if width is None or height is None:
        found.problems.append(Problem.of("input.no_size", given.key))
        return
    match = _RATIO.match(given.value or "")
    if match is None or not float(match.group(1)) or not float(match.group(2)):
        found.problems.append(Problem.of("input.not_a_ratio", given.key, value=given.value or ""))
        return
    ratio = float(match.group(1)) / float(match.group(2))
    if width.name in found.inputs and height.name in found.inputs:
        found.problems.append(Problem.of("input.ratio_and_size", given.key))
        return
    shape = _shape(found, width, height, ratio)
    found.inputs[width.name], found.inputs[height.name] = shape


def _shape(
    found: LineInputs, width: InputSpec, height: InputSpec, ratio: float
) -> tuple[int, int]:
    """Sides with `ratio`: one side kept if the user gave it, else the default pixel count;
    scaled down to fit the declared maxima; in steps of 8."""
    given_w, given_h = (
        _number(found.inputs.get(width.name)),
        _number(found.inputs.get(height.name)),
    )
    if given_w:
        w, h = given_w, given_w / ratio
    elif given_h:
        w, h = given_h * ratio, given_h
    else:
        area = (_number(width.default) or DEFAULT_SIDE) * (_number(height.default) or DEFAULT_SIDE)
        w = math.sqrt(area * ratio)
        h = w / ratio
    limits = [lim / side for lim, side in ((width.max, w), (height.max, h)) if lim and side]
    scale = min([1.0, *limits])
    return _step(w * scale, width), _step(h * scale, height)


def _step(side: float, spec: InputSpec) -> int:
    value = max(SIDE_STEP, int(side // SIDE_STEP * SIDE_STEP))
    return max(value, int(spec.min)) if spec.min is not None else value


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
