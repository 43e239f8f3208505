"""Check a command's arguments against a workflow's inputs: one specific message per problem."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from core.errors import InvalidInput
from core.models import InputSpec, InputType, Workflow

_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n"}


def validate_inputs(
    workflow: Workflow,
    text: str,
    options: Mapping[str, str],
    *,
    image_inputs: frozenset[str] = frozenset(),
    max_prompt_chars: int = 2000,
    duplicates: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Return typed input values, or raise InvalidInput listing every problem found.

    `image_inputs` names image inputs that the caller fills from attached media.
    """
    problems: list[str] = [f"`{name}` is given more than once." for name in duplicates]
    values: dict[str, Any] = {}
    main = workflow.main_text_input
    known = ", ".join(i.name for i in workflow.inputs) or "none"
    by_lower = {i.name.lower(): i.name for i in workflow.inputs}
    given: dict[str, str] = {}
    for name, option in options.items():
        if name.lower() in by_lower:
            given[by_lower[name.lower()]] = option
        else:
            problems.append(f"Unknown option `{name}`. Options of /{workflow.command}: {known}.")
    if text:
        if main is None:
            problems.append(f"/{workflow.command} takes no free text; use key=value options.")
        elif main.name in given:
            problems.append(
                f"Give `{main.name}` either as free text or as {main.name}=…, not both."
            )
        else:
            values[main.name] = text
    for spec in workflow.inputs:
        raw = given.get(spec.name)
        if raw is not None:
            try:
                values[spec.name] = convert_value(spec, raw)
            except ValueError as problem:
                problems.append(str(problem))
                continue
        value = values.get(spec.name)
        if isinstance(value, str) and spec.type is InputType.TEXT:
            limits = [spec.max_length, max_prompt_chars if spec is main else None]
            limit = min((n for n in limits if n is not None), default=None)
            if limit is not None and len(value) > limit:
                problems.append(
                    f"`{spec.name}` is too long: {len(value)} characters, at most {limit}."
                )
        if spec.required and spec.name not in values and spec.name not in image_inputs:
            problems.append(_missing(workflow, spec))
    if problems:
        raise InvalidInput(problems)
    return values


def convert_value(spec: InputSpec, raw: str) -> Any:
    """Turn one option's text into the input's type, checking its limits."""
    raw = raw.strip()
    if spec.type is InputType.INTEGER:
        try:
            number: float = int(raw)
        except ValueError:
            raise ValueError(f"`{spec.name}` must be a whole number, not '{raw}'.") from None
        return _in_range(spec, number)
    if spec.type is InputType.NUMBER:
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(f"`{spec.name}` must be a number, not '{raw}'.") from None
        if not math.isfinite(number):
            raise ValueError(f"`{spec.name}` must be a finite number.")
        return _in_range(spec, number)
    if spec.type is InputType.BOOLEAN:
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"`{spec.name}` must be yes or no, not '{raw}'.")
    if spec.type is InputType.CHOICE:
        choices = spec.choices or ()
        match = next((c for c in choices if c.lower() == raw.lower()), None)
        if match is None:
            raise ValueError(f"`{spec.name}` must be one of: {', '.join(choices)} (not '{raw}').")
        return match
    if spec.type is InputType.IMAGE:
        if not raw.startswith(("https://", "http://")):
            raise ValueError(f"`{spec.name}` must be an image URL, or attach an image.")
        return raw
    if not raw:
        raise ValueError(f"`{spec.name}` is empty.")
    return raw


def _in_range(spec: InputSpec, number: float) -> float:
    low, high = spec.min, spec.max
    if (low is not None and number < low) or (high is not None and number > high):
        if low is not None and high is not None:
            bounds = f"between {_fmt(low)} and {_fmt(high)}"
        elif low is not None:
            bounds = f"at least {_fmt(low)}"
        else:
            bounds = f"at most {_fmt(high)}"
        raise ValueError(f"`{spec.name}` must be {bounds}, not {_fmt(number)}.")
    return number


def _fmt(number: float | None) -> str:
    if number is None:
        return ""
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def _missing(workflow: Workflow, spec: InputSpec) -> str:
    if spec.type is InputType.IMAGE:
        return f"/{workflow.command} needs an image: attach one with the command as its caption."
    if spec is workflow.main_text_input:
        return f"/{workflow.command} needs a {spec.name}: /{workflow.command} <{spec.name}>."
    return f"`{spec.name}` is required: add {spec.name}=…"
