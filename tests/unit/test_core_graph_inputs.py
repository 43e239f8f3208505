"""Inputs found in API-format graphs: names, types, bindings, never a linked input, the media
loaders that make a workflow need a file, and where a run's values go."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import BackendUnavailable
from core.graph_inputs import bindable, derive_inputs, media_loaders
from core.graph_values import SEED_RANGE, place_values, resolve_bindings
from core.workflow import InputSpec, InputType, NodeBinding, Workflow
from tests.fakes.comfyui_graphs import img2img, txt2img
from tests.fakes.runcomfy_catalog import default_deployments


def by_name(specs: tuple[InputSpec, ...]) -> dict[str, InputSpec]:
    return {spec.name: spec for spec in specs}


def at(node: str, field: str) -> NodeBinding:
    return NodeBinding(node_id=node, field=field)


def workflow(graph: dict[str, Any], specs: tuple[InputSpec, ...]) -> Workflow:
    return Workflow(name="w", command="w", inputs=specs, media_loaders=media_loaders(graph))


def test_txt2img_inputs_follow_the_sampler() -> None:
    specs = by_name(derive_inputs(txt2img("a red fox", steps=4)))
    assert list(specs) == [
        "prompt",
        "negative",
        "seed",
        "steps",
        "cfg",
        "width",
        "height",
        "batch_size",
    ]
    prompt = specs["prompt"]
    assert (prompt.type, prompt.bind, prompt.label, prompt.default) == (
        InputType.TEXT,
        (at("6", "text"),),
        "Positive",
        "a red fox",
    )
    assert prompt.multiline and not prompt.required
    assert specs["negative"].bind == (at("7", "text"),)
    assert specs["seed"].bind == (at("3", "seed"),) and specs["seed"].default is None
    assert (specs["steps"].type, specs["steps"].default) == (InputType.INTEGER, 4)
    assert (specs["cfg"].type, specs["cfg"].default) == (InputType.NUMBER, 7.0)
    assert specs["width"].bind == (at("5", "width"),) and specs["width"].min == 16
    assert workflow(txt2img(), tuple(specs.values())).text_only


def test_img2img_needs_its_image_and_has_no_size() -> None:
    graph = img2img("example.png")
    specs = by_name(derive_inputs(graph))
    assert "width" not in specs  # the latent comes from the picture
    image = specs["image"]
    assert (image.type, image.required, image.bind) == (
        InputType.IMAGE,
        True,
        (at("10", "image"),),
    )
    assert not workflow(graph, tuple(specs.values())).text_only


def test_an_empty_prompt_is_required() -> None:
    specs = by_name(derive_inputs(txt2img("")))
    assert specs["prompt"].required and specs["prompt"].default == ""


def test_primitives_become_inputs_and_a_linked_prompt_is_never_overwritten() -> None:
    graph = txt2img()
    graph["6"]["inputs"]["text"] = ["20", 0]
    graph["20"] = {
        "class_type": "PrimitiveStringMultiline",
        "inputs": {"value": "from a primitive"},
        "_meta": {"title": "Prompt text"},
    }
    graph["21"] = {"class_type": "PrimitiveFloat", "inputs": {"value": 0.5}, "_meta": {}}
    graph["22"] = {
        "class_type": "PrimitiveBoolean",
        "inputs": {"value": True},
        "_meta": {"title": "Hi-res fix"},
    }
    graph["23"] = {"class_type": "PrimitiveInt", "inputs": {"value": ["21", 0]}}
    specs = by_name(derive_inputs(graph))
    assert specs["prompt"].bind == (at("20", "value"),)
    assert specs["prompt"].default == "from a primitive"
    assert not any(at("6", "text") in s.bind for s in specs.values())
    assert (specs["float_21"].type, specs["float_21"].default) == (InputType.NUMBER, 0.5)
    assert (specs["hi_res_fix"].type, specs["hi_res_fix"].label) == (
        InputType.BOOLEAN,
        "Hi-res fix",
    )
    assert not any(at("23", "value") in s.bind for s in specs.values())  # linked


def test_an_unbound_media_loader_makes_a_workflow_need_a_file() -> None:
    graph = txt2img()
    graph["30"] = {"class_type": "LoadVideo", "inputs": {"file": "clip.mp4"}}
    specs = derive_inputs(graph)
    assert media_loaders(graph) == (at("30", "file"),)
    assert not workflow(graph, specs).text_only
    bound = (*specs, InputSpec(name="clip", type=InputType.TEXT, bind=(at("30", "file"),)))
    assert workflow(graph, bound).text_only


def test_exposed_fields_only_and_others_named_after_their_field() -> None:
    deployment = default_deployments()
    img = next(d for d in deployment.values() if d.name == "img2img")
    exposed = [(n, f) for n, patch in img.overrides.items() for f in patch["inputs"]]
    specs = by_name(derive_inputs(img.workflow_api_json, exposed))
    assert set(specs) == {"prompt", "image", "denoise"}
    assert specs["denoise"].bind == (at("3", "denoise"),)
    assert (specs["denoise"].type, specs["denoise"].default) == (InputType.NUMBER, 0.6)


def test_bindings_of_the_run_are_used_when_they_fit_the_graph() -> None:
    graph = txt2img()
    own = derive_inputs(graph)
    foreign = (InputSpec(name="prompt", type=InputType.TEXT, bind=(at("99", "text"),)),)
    assert resolve_bindings(graph, foreign, own)["prompt"] == (at("6", "text"),)
    declared = (InputSpec(name="prompt", type=InputType.TEXT, bind=(at("7", "text"),)),)
    assert resolve_bindings(graph, declared, own)["prompt"] == (at("7", "text"),)
    assert resolve_bindings(None, foreign, ())["prompt"] == (at("99", "text"),)
    assert not bindable(graph, at("3", "model"))  # a link


def test_values_are_placed_and_a_missing_seed_is_drawn() -> None:
    graph = txt2img()
    specs = derive_inputs(graph)
    draws: list[int] = []

    def draw(below: int) -> int:
        draws.append(below)
        return 1234

    placed = place_values(graph, specs, specs, {"prompt": "a cat", "steps": 9}, draw)
    where = {(p.binding.node_id, p.binding.field): p.value for p in placed}
    assert where == {("6", "text"): "a cat", ("3", "steps"): 9, ("3", "seed"): 1234}
    assert draws == [SEED_RANGE]
    given = place_values(graph, specs, specs, {"seed": 7}, draw)
    assert [(p.binding.field, p.value) for p in given] == [("seed", 7)]
    with pytest.raises(BackendUnavailable) as refused:
        place_values(graph, specs, specs, {"style": "oil"}, draw)
    assert refused.value.notice == "submit.input_unsupported"
