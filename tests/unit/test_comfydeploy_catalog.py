"""`input_types[]` -> InputSpec mapping and the command slug (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.comfydeploy.catalog import slug_command
from adapters.comfydeploy.inputs import map_inputs
from core.workflow import InputType


def item(class_type: str, input_id: str, default: Any = None, **extra: Any) -> dict[str, Any]:
    """An `input_types[]` element as `GET /deployments` sends it ."""
    base: dict[str, Any] = {
        "type": "string",
        "class_type": f"ComfyUIDeployExternal{class_type}",
        "input_id": input_id,
        "default_value": default,
        "min_value": None,
        "max_value": None,
        "display_name": "",
        "description": "",
        "enum_options": None,
        "step": None,
    }
    base.update(extra)
    return base


def test_types_and_required() -> None:
    specs = map_inputs(
        [
            item("Text", "prompt", "", display_name="Prompt", description="What to draw"),
            item("TextSingleLine", "negative", "blurry"),
            item("TextAny", "notes", None),
            item("Number", "cfg", 3.5, type="float"),
            item(
                "NumberSlider", "denoise", 0.6, type="float", min_value=0, max_value=1, step=0.05
            ),
            item("NumberInt", "steps", "20", type="integer", min_value=1, max_value=50),
            item("NumberSliderInt", "count", None, type="integer", min_value=1, max_value=4),
            item("Seed", "seed", None, type="integer"),
            item("Boolean", "upscale", False, type="boolean"),
            item("Image", "init", ["12", 0]),
            item("ImageAlpha", "mask", ""),
            item("ImageBatch", "refs", "https://example.com/ref.png"),
            item("Enum", "style", "anime", enum_options=["anime", "photo"]),
            item("Enum", "mood", "angry", enum_options=["calm", "happy"]),
        ]
    )
    by_name = {s.name: s for s in specs}
    prompt = by_name["prompt"]
    assert (prompt.type, prompt.required, prompt.multiline) == (InputType.TEXT, True, True)
    assert (prompt.label, prompt.description) == ("Prompt", "What to draw")
    assert by_name["negative"].multiline is False and by_name["negative"].required is False
    assert by_name["negative"].label == "negative"
    assert by_name["notes"].required is True
    assert by_name["cfg"].type is InputType.NUMBER and by_name["cfg"].default == 3.5
    denoise = by_name["denoise"]
    assert (denoise.min, denoise.max, denoise.step) == (0, 1, 0.05)
    steps = by_name["steps"]
    assert (steps.type, steps.default, steps.min, steps.max) == (InputType.INTEGER, 20, 1, 50)
    assert steps.required is False
    assert by_name["count"].required is True
    assert by_name["seed"].type is InputType.INTEGER and by_name["seed"].required is False
    assert by_name["upscale"].type is InputType.BOOLEAN and by_name["upscale"].default is False
    assert by_name["init"].type is InputType.IMAGE and by_name["init"].required is True
    assert by_name["init"].default is None
    assert by_name["mask"].required is True
    assert by_name["refs"].required is False
    assert by_name["refs"].default == "https://example.com/ref.png"
    style = by_name["style"]
    assert (style.type, style.choices, style.default) == (
        InputType.CHOICE,
        ("anime", "photo"),
        "anime",
    )
    assert style.required is False
    assert by_name["mood"].required is True and by_name["mood"].default is None


def test_url_inputs_are_optional_text_after_real_text() -> None:
    specs = map_inputs(
        [
            item("Video", "clip"),
            item("Lora", "lora", "https://example.com/x.safetensors"),
            item("Text", "prompt", "a cat"),
            item("Enum", "broken_enum", "x", enum_options=[]),
        ]
    )
    assert [s.name for s in specs] == ["prompt", "clip", "lora", "broken_enum"]
    assert all(s.type is InputType.TEXT for s in specs)
    assert [s.required for s in specs] == [False, False, False, False]


def test_skips_malformed_duplicate_and_websocket_items() -> None:
    specs = map_inputs(
        [
            "nonsense",
            {"class_type": "ComfyUIDeployExternalText"},
            item("Text", "prompt", ""),
            item("Text", "prompt", "again"),
            {"type": "binary", "class_type": "ComfyDeployWebscoketImageInput", "input_id": "ws"},
        ]
    )
    assert [(s.name, s.default) for s in specs] == [("prompt", "")]


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Flux Dev", "flux_dev"),
        ("  SDXL -- Turbo!! v2 ", "sdxl_turbo_v2"),
        ("already_ok_123", "already_ok_123"),
        ("A" * 40, "a" * 32),
        ("x" * 31 + " y", "x" * 31),
    ],
)
def test_slug_command(name: str, slug: str) -> None:
    assert slug_command(name) == slug


def test_slug_of_unusable_name_is_stable() -> None:
    slug = slug_command("フラックス")
    assert slug.startswith("wf_") and slug == slug_command("フラックス")
