"""ComfyDeploy `input_types[]` items -> the neutral `InputSpec` schema (one input per
ComfyDeploy external input node: https://github.com/BennyKok/comfyui-deploy).

`required` means "no usable default": empty text, a missing image (or one whose default is a node
link such as `["12", 0]`), a number without a default, an enum whose default is not an option.
A seed is never required: ComfyDeploy picks a random one when it is absent.

Class types the neutral schema cannot express (video, audio, file, LoRA, checkpoint, EXR, …)
become optional text inputs that take a URL. They are placed after the real text inputs so
that the free text after a command never lands in them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from core.workflow import InputSpec, InputType

CLASS_PREFIXES = ("ComfyUIDeployExternal", "ComfyDeployExternal")

_TEXT = {"Text": True, "TextAny": True, "TextSingleLine": False}  # value: multiline
_NUMBER = {"Number", "NumberSlider"}
_INTEGER = {"NumberInt", "NumberSliderInt", "Seed"}
_IMAGE = {"Image", "ImageAlpha", "ImageBatch"}


def short_class(class_type: str) -> str:
    """`ComfyUIDeployExternalNumberInt` -> `NumberInt`."""
    for prefix in CLASS_PREFIXES:
        if class_type.startswith(prefix):
            return class_type[len(prefix) :]
    return class_type


def map_inputs(items: Iterable[Any]) -> tuple[InputSpec, ...]:
    """Map every usable item; skip malformed ones and websocket-only (binary) inputs."""
    primary: list[InputSpec] = []
    url_like: list[InputSpec] = []
    seen: set[str] = set()
    for item in items:
        spec, is_url = _map_item(item)
        if spec is None or spec.name in seen:
            continue
        seen.add(spec.name)
        (url_like if is_url else primary).append(spec)
    return (*primary, *url_like)


def _map_item(item: Any) -> tuple[InputSpec | None, bool]:
    if not isinstance(item, dict):
        return None, False
    name = item.get("input_id")
    class_type = item.get("class_type")
    if not isinstance(name, str) or not name or not isinstance(class_type, str):
        return None, False
    if item.get("type") == "binary":
        return None, False
    kind = short_class(class_type)
    common: dict[str, Any] = {
        "name": name,
        "label": _text(item.get("display_name")) or name,
        "description": _text(item.get("description")),
    }
    default = item.get("default_value")
    if kind in _TEXT:
        text = default if isinstance(default, str) else None
        return InputSpec(
            **common,
            type=InputType.TEXT,
            multiline=_TEXT[kind],
            default=text,
            required=not text,
        ), False
    if kind in _NUMBER or kind in _INTEGER:
        return _numeric(common, kind, item), False
    if kind == "Boolean":
        flag = _bool(default)
        return InputSpec(
            **common, type=InputType.BOOLEAN, default=flag, required=flag is None
        ), False
    if kind in _IMAGE:
        url = default if isinstance(default, str) and default.strip() else None
        return InputSpec(**common, type=InputType.IMAGE, default=url, required=url is None), False
    if kind == "Enum":
        options = item.get("enum_options")
        if isinstance(options, list) and options:
            choices = tuple(str(o) for o in options)
            chosen = str(default) if default is not None and str(default) in choices else None
            return InputSpec(
                **common,
                type=InputType.CHOICE,
                choices=choices,
                default=chosen,
                required=chosen is None,
            ), False
    # Video, audio, file, LoRA, checkpoint, an enum without options, unknown classes: a URL/text.
    text = default if isinstance(default, str) and default else None
    return InputSpec(**common, type=InputType.TEXT, default=text, required=False), True


def _numeric(common: dict[str, Any], kind: str, item: dict[str, Any]) -> InputSpec:
    integer = kind in _INTEGER
    value = _number(item.get("default_value"))
    default: float | int | None = value
    if value is not None and integer:
        default = int(value) if value.is_integer() else None
    return InputSpec(
        **common,
        type=InputType.INTEGER if integer else InputType.NUMBER,
        default=default,
        required=default is None and kind != "Seed",
        min=_number(item.get("min_value")),
        max=_number(item.get("max_value")),
        step=_number(item.get("step")),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
