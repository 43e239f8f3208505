"""Workflows compiled to commands: name rules, collisions, menu and description limits."""

from __future__ import annotations

import re

import pytest

from core.chat.commands import (
    BUILTIN_COMMANDS,
    TELEGRAM_RULES,
    CommandSpec,
    compile_commands,
    fit_description,
    menu_commands,
    menu_left_out,
    sanitize_name,
)
from core.workflow import InputSpec, InputType, Workflow

TELEGRAM_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
BUILTIN_NAMES = [c.name for c in BUILTIN_COMMANDS]
PROMPT = InputSpec(name="prompt", type=InputType.TEXT, required=True)
IMAGE = InputSpec(name="image", type=InputType.IMAGE, required=True)


def workflow(name: str, command: str | None = None, **fields: object) -> Workflow:
    fields.setdefault("inputs", (PROMPT,))
    return Workflow(name=name, command=command if command is not None else name, **fields)


def names(specs: list[CommandSpec]) -> list[str]:
    return [s.name for s in specs]


def command_map(specs: list[CommandSpec]) -> dict[str, str]:
    """Command name -> workflow name, for the commands that run workflows."""
    return {s.name: s.workflow for s in specs if s.workflow is not None}


def workflow_names(specs: list[CommandSpec]) -> dict[str, str]:
    """Workflow name -> compiled command name."""
    return {wf: name for name, wf in command_map(specs).items()}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("flux", "flux"),
        ("Flux Dev", "flux_dev"),
        ("sdxl-turbo", "sdxl_turbo"),
        ("  Spaced   Out  ", "spaced_out"),
        ("Café Crème", "cafe_creme"),
        ("über--fast!!", "uber_fast"),
        ("日本語", "workflow"),
        ("🙂", "workflow"),
        ("", "workflow"),
        ("a" * 40, "a" * 32),
        ("x" * 31 + "-tail", "x" * 31),
    ],
)
def test_names_are_sanitised_to_telegram_rules(raw: str, expected: str) -> None:
    name = sanitize_name(raw, TELEGRAM_RULES)
    assert name == expected
    assert TELEGRAM_NAME.match(name)


def test_every_compiled_name_follows_telegram_rules() -> None:
    raw = ["Ünïcode Wörkflow", "with spaces", "dash-ed", "UPPER", "n" * 50, "日本", "a.b/c"]
    specs = compile_commands([workflow(r) for r in raw], TELEGRAM_RULES)

    assert all(TELEGRAM_NAME.match(s.name) for s in specs), names(specs)
    assert len(set(names(specs))) == len(specs)


def test_builtins_come_first_then_workflows_by_name() -> None:
    specs = compile_commands([workflow("zeta"), workflow("alpha")], TELEGRAM_RULES)

    assert names(specs) == [*BUILTIN_NAMES, "alpha", "zeta"]
    assert all(s.workflow is None for s in specs[: len(BUILTIN_NAMES)])


@pytest.mark.parametrize("reserved", ["help", "start", "status", "refresh", "ban", "rerun"])
def test_a_workflow_named_like_a_builtin_gets_a_suffix(reserved: str) -> None:
    specs = compile_commands([workflow("w", command=reserved)], TELEGRAM_RULES)

    assert workflow_names(specs) == {"w": f"{reserved}_2"}
    assert names(specs).count(reserved) == (1 if reserved in BUILTIN_NAMES else 0)


def test_workflows_colliding_with_each_other_get_2_and_3_in_name_order() -> None:
    flows = [workflow("b", command="Fox"), workflow("a", command="fox"), workflow("c", "fox!")]

    assert workflow_names(compile_commands(flows, TELEGRAM_RULES)) == {
        "a": "fox",
        "b": "fox_2",
        "c": "fox_3",
    }


def test_collision_handling_does_not_depend_on_discovery_order() -> None:
    flows = [
        workflow("a b"),
        workflow("a-b"),
        workflow("a_b"),
        workflow("a_b_2"),
        workflow("help"),
        workflow("help 2"),
    ]
    forward = compile_commands(flows, TELEGRAM_RULES)
    backward = compile_commands(list(reversed(flows)), TELEGRAM_RULES)

    assert forward == backward
    assert len(set(names(forward))) == len(forward)
    assert workflow_names(forward)["help"] == "help_2"


def test_suffix_on_a_name_at_the_length_limit_stays_within_32() -> None:
    long = "n" * 40
    specs = compile_commands([workflow("one", long), workflow("two", long)], TELEGRAM_RULES)

    assert workflow_names(specs) == {"one": "n" * 32, "two": "n" * 30 + "_2"}


def test_hidden_workflows_are_not_compiled() -> None:
    specs = compile_commands([workflow("shown"), workflow("secret", hidden=True)], TELEGRAM_RULES)

    assert workflow_names(specs) == {"shown": "shown"}


def test_image_workflows_are_compiled_and_in_the_menu_too() -> None:
    flows = [workflow("txt2img"), workflow("upscale", inputs=(IMAGE,))]
    specs = compile_commands(flows, TELEGRAM_RULES)

    assert command_map(specs) == {"txt2img": "txt2img", "upscale": "upscale"}
    upscale = next(s for s in specs if s.name == "upscale")
    assert upscale.text_only is False
    assert names(menu_commands(specs, TELEGRAM_RULES)) == [*BUILTIN_NAMES, "txt2img", "upscale"]
    admin = names(menu_commands(specs, TELEGRAM_RULES, admin=True))
    admins = ["refresh", "stats", "redeliver", "ban", "unban", "grant", "refund"]
    assert admin == [*BUILTIN_NAMES, "txt2img", "upscale", *admins]


def test_menu_is_cut_at_100_with_builtins_kept() -> None:
    flows = [workflow(f"wf{i:03d}") for i in range(150)]
    menu = menu_commands(compile_commands(flows, TELEGRAM_RULES), TELEGRAM_RULES)

    assert len(menu) == 100
    assert names(menu)[: len(BUILTIN_NAMES)] == BUILTIN_NAMES
    assert names(menu)[-1] == f"wf{100 - len(BUILTIN_NAMES) - 1:03d}"


def test_menu_priority_picks_the_workflows_a_full_menu_keeps() -> None:
    flows = [workflow(f"wf{i:03d}") for i in range(150)]
    flows[140] = workflow("wf140", menu_priority=5)
    flows[120] = workflow("wf120", menu_priority=1)
    flows[3] = workflow("wf003", menu_priority=-1)  # last of all
    specs = compile_commands(flows, TELEGRAM_RULES)
    room = 100 - len(BUILTIN_NAMES)

    menu = names(menu_commands(specs, TELEGRAM_RULES))
    assert len(menu) == 100 and menu[: len(BUILTIN_NAMES)] == BUILTIN_NAMES
    kept = menu[len(BUILTIN_NAMES) :]
    assert kept[:2] == ["wf140", "wf120"]
    expected_rest = [f"wf{i:03d}" for i in range(150) if i not in (3, 120, 140)][: room - 2]
    assert kept[2:] == expected_rest
    left_out = names(menu_left_out(specs, TELEGRAM_RULES))
    assert left_out[-1] == "wf003" and len(left_out) == 150 - room
    assert not set(left_out) & set(kept)
    # Admins' menus hold the admin commands too, so they leave out a few more.
    assert len(menu_left_out(specs, TELEGRAM_RULES, admin=True)) > len(left_out)


def test_description_comes_from_the_workflow() -> None:
    specs = compile_commands(
        [workflow("flux", description="  Fast\n text to   image ")], TELEGRAM_RULES
    )
    assert specs[-1].description == "Fast text to image"


def test_empty_description_falls_back_to_title_or_name() -> None:
    specs = compile_commands(
        [workflow("a", title="Pretty Title"), workflow("b", description="   ")], TELEGRAM_RULES
    )
    assert [s.description for s in specs[-2:]] == ["Run Pretty Title", "Run b"]


def test_long_description_is_cut_to_256_with_an_ellipsis() -> None:
    specs = compile_commands([workflow("a", description="word " * 100)], TELEGRAM_RULES)
    description = specs[-1].description

    assert len(description) <= 256
    assert description.endswith("word…")
    assert description.startswith("word word")


def test_long_unbroken_description_uses_all_256_characters() -> None:
    assert fit_description("x" * 300, TELEGRAM_RULES, "fallback") == "x" * 255 + "…"


def test_description_of_exactly_256_is_kept_whole() -> None:
    text = "x" * 256
    assert fit_description(text, TELEGRAM_RULES, "fallback") == text


def test_long_fallback_is_cut_too() -> None:
    specs = compile_commands([workflow("a", title="T" * 300)], TELEGRAM_RULES)
    assert 1 <= len(specs[-1].description) <= 256


def test_every_description_fits_telegram_limits() -> None:
    flows = [workflow("a"), workflow("b", description="d" * 1000), workflow("c", title=" ")]
    for spec in compile_commands(flows, TELEGRAM_RULES):
        assert 1 <= len(spec.description) <= 256, spec
