"""A run request's values checked against the workflow's inputs: typed values, or every problem.

Values come typed (Discord options, JSON) or as text (chat lines); text is converted by the
input's type. Each problem names its input, so every platform can say it in its own words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from core.errors import InvalidInput
from core.notices import Problem
from core.requests import InputValue
from core.workflow import InputSpec, InputType, Workflow

TRUE_WORDS = frozenset({"true", "yes", "on", "1", "y"})
FALSE_WORDS = frozenset({"false", "no", "off", "0", "n"})
_DIGITS = re.compile(r"[+-]?\d+")
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
"""Graph values are 64-bit integers (ComfyUI's INT): anything wider cannot run."""


class Rejected(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.key)
        self.problem = problem


def validate_inputs(
    workflow: Workflow,
    inputs: Mapping[str, InputValue],
    *,
    media: Collection[str] = (),
    max_prompt_chars: int = 2000,
    found: Sequence[Problem] = (),
) -> dict[str, Any]:
    """Typed values of the inputs given, or InvalidInput listing every problem.

    `media` names inputs the caller fills with attached files; `found` holds problems already
    seen by the front door (duplicates, stray free text), reported with the rest."""
    problems = list(found)
    known = {spec.name for spec in workflow.inputs}
    names = ", ".join(spec.name for spec in workflow.inputs) or "-"
    problems += [
        Problem.of("input.unknown", name, known=names) for name in inputs if name not in known
    ]
    values: dict[str, Any] = {}
    for spec in workflow.inputs:
        if spec.name in inputs:
            try:
                values[spec.name] = convert_value(spec, inputs[spec.name])
            except Rejected as rejected:
                problems.append(rejected.problem)
                continue
        value = values.get(spec.name)
        if isinstance(value, str) and spec.type is InputType.TEXT:
            # MAX_PROMPT_CHARS bounds every text input, not only the prompt.
            limit = min(n for n in (spec.max_length, max_prompt_chars) if n is not None)
            if len(value) > limit:
                problems.append(
                    Problem.of("input.too_long", spec.name, length=len(value), limit=limit)
                )
        if spec.required and spec.name not in values and spec.name not in media:
            problems.append(_missing(workflow, spec))
    if problems:
        raise InvalidInput(workflow.name, problems)
    return values


def convert_value(spec: InputSpec, value: InputValue) -> Any:
    """One value in the input's type, within its limits; raises Rejected naming the input."""
    text = value.strip() if isinstance(value, str) else None
    shown = text if text is not None else str(value)
    if spec.type is InputType.INTEGER:
        return _in_range(spec, _integer(spec, value, shown), integer=True)
    if spec.type is InputType.NUMBER:
        number = _number(spec, value, shown)
        if not math.isfinite(number):
            raise Rejected(Problem.of("input.not_finite", spec.name))
        return _in_range(spec, number, integer=False)
    if spec.type is InputType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in TRUE_WORDS:
            return True
        if text is not None and text.lower() in FALSE_WORDS:
            return False
        raise Rejected(Problem.of("input.not_boolean", spec.name, value=shown))
    if text is None:
        raise Rejected(Problem.of("input.not_text", spec.name, value=shown))
    if spec.type is InputType.CHOICE:
        choices = spec.choices or ()
        match = next((c for c in choices if c.lower() == text.lower()), None)
        if match is None:
            choice_list = ", ".join(choices)
            raise Rejected(
                Problem.of("input.not_choice", spec.name, choices=choice_list, value=text)
            )
        return match
    if spec.type is InputType.IMAGE:
        if not text.startswith(("https://", "http://")):
            raise Rejected(Problem.of("input.not_image_url", spec.name))
        return text
    if not text:
        raise Rejected(Problem.of("input.empty", spec.name))
    return text


def _integer(spec: InputSpec, value: InputValue, shown: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            if _DIGITS.fullmatch(shown):
                _too_many_digits(spec, shown)
    raise Rejected(Problem.of("input.not_integer", spec.name, value=shown))


def _too_many_digits(spec: InputSpec, digits: str) -> None:
    """Digits past what `int()` reads (4300 by default): out of every range, said as such."""
    far = (INT64_MAX + 1) * 2 * (-1 if digits.startswith("-") else 1)
    try:
        _in_range(spec, far, integer=True)
    except Rejected as rejected:
        params = {k: v for k, v in rejected.problem.params.items() if k != "input"}
        problem = Problem.of(rejected.problem.key, spec.name, **{**params, "value": digits})
        raise Rejected(problem) from None


def _number(spec: InputSpec, value: InputValue, shown: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise Rejected(Problem.of("input.not_number", spec.name, value=shown))


def _in_range(spec: InputSpec, number: float, *, integer: bool) -> Any:
    low, high = spec.min, spec.max
    if integer:  # what a graph can hold bounds every whole-number input
        low = INT64_MIN if low is None else max(low, INT64_MIN)
        high = INT64_MAX if high is None else min(high, INT64_MAX)
    if (low is None or number >= low) and (high is None or number <= high):
        return number
    shown = {"min": _fmt(low), "max": _fmt(high), "value": _fmt(number)}
    explicit_low = spec.min is not None or (integer and number < INT64_MIN)
    explicit_high = spec.max is not None or (integer and number > INT64_MAX)
    if integer and spec.min is None and spec.max is None:
        explicit_low = explicit_high = True  # both limits are the graph's: name both
    if explicit_low and explicit_high:
        key = "input.between"
    elif explicit_low:
        key = "input.at_least"
    else:
        key = "input.at_most"
    raise Rejected(Problem.of(key, spec.name, **shown))


def _fmt(number: float | None) -> str:
    if number is None:
        return ""
    if isinstance(number, int):
        return str(number)
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def _missing(workflow: Workflow, spec: InputSpec) -> Problem:
    if spec.type.media:
        return Problem.of("input.missing_image", spec.name)
    if spec is workflow.main_text_input:
        return Problem.of("input.missing_main", spec.name)
    return Problem.of("input.missing", spec.name)
