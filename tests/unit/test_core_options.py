"""Typed options compiled from a workflow's inputs, within each platform's rules."""

from __future__ import annotations

import re

import pytest

from core.chat.commands import DISCORD_RULES, TELEGRAM_RULES, compile_commands
from core.chat.options import OptionKind, OptionSpec
from core.workflow import InputSpec, InputType, Workflow

DISCORD_NAME = re.compile(r"^[-_a-z0-9]{1,32}$")
PROMPT = InputSpec(name="prompt", type=InputType.TEXT, required=True, description="What to draw")


def options(workflow: Workflow, rules: object = DISCORD_RULES) -> tuple[OptionSpec, ...]:
    specs = compile_commands([workflow], rules)  # type: ignore[arg-type]
    return next(s for s in specs if s.workflow == workflow.name).options


def flow(*inputs: InputSpec, name: str = "w") -> Workflow:
    return Workflow(name=name, command=name, inputs=inputs)


def test_each_input_type_becomes_its_option_kind_with_limits() -> None:
    found = options(
        flow(
            PROMPT,
            InputSpec(name="steps", type=InputType.INTEGER, min=1, max=50, default=20),
            InputSpec(name="cfg", type=InputType.NUMBER, min=0, max=20),
            InputSpec(name="hires", type=InputType.BOOLEAN, default=False),
            InputSpec(name="style", type=InputType.CHOICE, choices=("a", "b")),
            InputSpec(name="image", type=InputType.IMAGE),
        )
    )
    kinds = {o.name: o.kind for o in found}
    assert kinds == {
        "prompt": OptionKind.STRING,
        "steps": OptionKind.INTEGER,
        "cfg": OptionKind.NUMBER,
        "hires": OptionKind.BOOLEAN,
        "style": OptionKind.STRING,
        "image": OptionKind.ATTACHMENT,
    }
    steps = next(o for o in found if o.name == "steps")
    assert (steps.min, steps.max, steps.required) == (1, 50, False)
    style = next(o for o in found if o.name == "style")
    assert (style.choices, style.autocomplete) == (("a", "b"), False)
    assert found[0].description == "What to draw"


def test_the_main_text_input_leads_and_is_required_on_discord() -> None:
    optional_prompt = InputSpec(name="prompt", type=InputType.TEXT, default="a cat")
    seed = InputSpec(name="seed", type=InputType.INTEGER)
    need = InputSpec(name="image", type=InputType.IMAGE, required=True)
    found = options(flow(seed, need, optional_prompt))
    assert [(o.name, o.required) for o in found] == [
        ("prompt", True),
        ("image", True),
        ("seed", False),
    ]
    text = options(flow(seed, need, optional_prompt), TELEGRAM_RULES)
    assert [(o.name, o.required) for o in text] == [
        ("prompt", False),
        ("seed", False),
        ("image", True),
    ]


def test_names_follow_discords_rules_and_collide_into_suffixes_in_input_order() -> None:
    raw = [
        "negativePrompt",
        "Negative Prompt",
        "négative-prompt",
        "x" * 40,
        "x" * 40 + "y",
        "日本",
        "__seed__",
        "Steps",
        "steps",
        "cfg scale!",
    ]
    found = options(flow(PROMPT, *(InputSpec(name=n, type=InputType.TEXT) for n in raw)))
    names = {o.input: o.name for o in found}
    assert all(DISCORD_NAME.match(o.name) for o in found), names
    assert names["negativePrompt"] == "negativeprompt"
    assert names["Negative Prompt"] == "negative_prompt"
    assert names["négative-prompt"] == "n_gative-prompt"  # other characters become `_`
    assert names["x" * 40] == "x" * 32
    assert names["x" * 40 + "y"] == "x" * 30 + "_2"
    assert names["日本"] == "input"  # nothing but `_` left: the fallback
    assert names["__seed__"] == "__seed__"  # already valid: kept as it is
    assert names["Steps"] == "steps"  # valid once lowercased: only lowercased
    assert names["steps"] == "steps_2"  # collisions in input order
    assert names["cfg scale!"] == "cfg_scale_"
    assert len(set(names.values())) == len(names)


def test_text_platforms_keep_input_names_as_they_are() -> None:
    found = options(
        flow(PROMPT, InputSpec(name="negativePrompt", type=InputType.TEXT)), TELEGRAM_RULES
    )
    assert [o.name for o in found] == ["prompt", "negativePrompt"]


def test_at_most_25_options_keeping_every_required_one() -> None:
    optional = [InputSpec(name=f"opt{i:02d}", type=InputType.INTEGER) for i in range(30)]
    required = [InputSpec(name=f"req{i}", type=InputType.INTEGER, required=True) for i in range(3)]
    found = options(flow(*optional, PROMPT, *required))
    assert len(found) == 25
    assert [o.name for o in found[:4]] == ["prompt", "req0", "req1", "req2"]
    assert [o.name for o in found[4:]] == [f"opt{i:02d}" for i in range(21)]
    everything = options(flow(*optional, PROMPT, *required), TELEGRAM_RULES)
    assert len(everything) == 34


@pytest.mark.parametrize(("count", "autocomplete"), [(25, False), (26, True)])
def test_more_than_25_choices_are_offered_by_autocomplete(count: int, autocomplete: bool) -> None:
    choices = tuple(f"c{i}" for i in range(count))
    style = InputSpec(name="style", type=InputType.CHOICE, choices=choices)
    found = options(flow(PROMPT, style))[1]
    assert (found.autocomplete, found.choices) == (autocomplete, choices)
    assert options(flow(PROMPT, style), TELEGRAM_RULES)[1].autocomplete is False


def test_descriptions_are_1_to_100_characters() -> None:
    long = InputSpec(name="long", type=InputType.TEXT, description="word " * 60)
    bare = InputSpec(name="bare", type=InputType.TEXT)
    labelled = InputSpec(name="lab", type=InputType.TEXT, label="Nice label")
    blank = InputSpec(name="blank", type=InputType.TEXT, description=" \n ", label="  ")
    found = {o.name: o.description for o in options(flow(PROMPT, long, bare, labelled, blank))}
    assert all(1 <= len(d) <= 100 for d in found.values())
    assert found["long"].endswith("…")
    assert found["bare"] == "bare" and found["lab"] == "Nice label"
    assert found["blank"] == "blank"


def test_discord_command_names_and_descriptions_follow_its_rules() -> None:
    flows = [
        Workflow(name="Flux Dev", command="Flux-Dev", description="d" * 300, inputs=(PROMPT,)),
        Workflow(name="flux_dev", command="flux-dev", inputs=(PROMPT,)),
    ]
    specs = [s for s in compile_commands(flows, DISCORD_RULES) if s.workflow]
    assert [s.name for s in specs] == ["flux-dev", "flux-dev_2"]
    assert all(1 <= len(s.description) <= 100 for s in specs)


def test_a_workflow_needing_more_than_25_inputs_gets_no_discord_command() -> None:
    required = [
        InputSpec(name=f"req{i}", type=InputType.INTEGER, required=True) for i in range(25)
    ]
    crowded = Workflow(name="crowded", command="crowded", inputs=(PROMPT, *required))
    roomy = Workflow(name="roomy", command="roomy", inputs=(PROMPT, *required[:24]))
    on_discord = [s.workflow for s in compile_commands([crowded, roomy], DISCORD_RULES)]
    assert "roomy" in on_discord and "crowded" not in on_discord
    on_telegram = [s.workflow for s in compile_commands([crowded, roomy], TELEGRAM_RULES)]
    assert {"roomy", "crowded"} <= set(on_telegram)
