"""Command arguments checked against a workflow's inputs: typed values or every problem at once."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import InvalidInput, UserFacingError
from core.models import InputSpec, InputType, Workflow
from core.validation import validate_inputs

TXT2IMG = Workflow(
    name="txt2img",
    command="flux",
    inputs=(
        InputSpec(name="prompt", type=InputType.TEXT, required=True),
        InputSpec(name="negative", type=InputType.TEXT),
        InputSpec(name="steps", type=InputType.INTEGER, min=1, max=50, default=20),
        InputSpec(name="cfg", type=InputType.NUMBER, min=0, max=20),
        InputSpec(name="seed", type=InputType.INTEGER, min=0),
        InputSpec(name="strength", type=InputType.NUMBER, max=1),
        InputSpec(name="style", type=InputType.CHOICE, choices=("Anime", "Photo")),
        InputSpec(name="hires", type=InputType.BOOLEAN),
        InputSpec(name="reference", type=InputType.IMAGE),
    ),
)
UPSCALE = Workflow(
    name="upscale",
    command="upscale",
    inputs=(
        InputSpec(name="image", type=InputType.IMAGE, required=True),
        InputSpec(name="scale", type=InputType.INTEGER, min=1, max=4),
    ),
)


def problems_of(
    workflow: Workflow, text: str = "", options: dict[str, str] | None = None, **kwargs: Any
) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        validate_inputs(workflow, text, options or {}, **kwargs)
    return caught.value.problems


def only_problem(workflow: Workflow, text: str = "", **options: str) -> str:
    problems = problems_of(workflow, text, options)
    assert len(problems) == 1, problems
    return problems[0]


# -- happy path --------------------------------------------------------------------------------


def test_valid_arguments_come_back_typed() -> None:
    values = validate_inputs(
        TXT2IMG,
        "a red fox",
        {
            "steps": "30",
            "cfg": "7.5",
            "seed": "0",
            "style": "photo",
            "hires": "yes",
            "negative": "blurry",
            "reference": "https://example.com/fox.png",
        },
    )

    assert values == {
        "prompt": "a red fox",
        "steps": 30,
        "cfg": 7.5,
        "seed": 0,
        "style": "Photo",
        "hires": True,
        "negative": "blurry",
        "reference": "https://example.com/fox.png",
    }
    assert type(values["steps"]) is int
    assert type(values["seed"]) is int
    assert type(values["cfg"]) is float


def test_only_given_inputs_are_returned() -> None:
    assert validate_inputs(TXT2IMG, "a fox", {}) == {"prompt": "a fox"}


def test_prompt_may_be_given_as_an_option_instead_of_free_text() -> None:
    assert validate_inputs(TXT2IMG, "", {"prompt": "a fox"}) == {"prompt": "a fox"}


def test_a_whole_number_for_a_number_input_is_accepted() -> None:
    assert validate_inputs(TXT2IMG, "x", {"cfg": "7"})["cfg"] == 7.0


def test_bounds_are_inclusive() -> None:
    values = validate_inputs(TXT2IMG, "x", {"steps": "50", "cfg": "0"})
    assert (values["steps"], values["cfg"]) == (50, 0.0)


def test_required_image_filled_by_an_attachment_is_accepted() -> None:
    values = validate_inputs(UPSCALE, "", {"scale": "2"}, image_inputs=frozenset({"image"}))
    assert values == {"scale": 2}


def test_image_given_as_url_is_accepted() -> None:
    values = validate_inputs(UPSCALE, "", {"image": "https://example.com/in.jpg"})
    assert values == {"image": "https://example.com/in.jpg"}


# -- one message per kind of problem -----------------------------------------------------------


def test_invalid_input_is_a_user_facing_error_with_one_line_per_problem() -> None:
    with pytest.raises(UserFacingError) as caught:
        validate_inputs(TXT2IMG, "", {"steps": "many", "colour": "red"})
    assert len(caught.value.message.splitlines()) == 3


def test_unknown_option_lists_the_known_options() -> None:
    problem = only_problem(TXT2IMG, "a fox", colour="red")

    assert "Unknown option `colour`" in problem
    assert "/flux" in problem
    for name in ("prompt", "negative", "steps", "cfg", "style", "hires", "reference"):
        assert name in problem


def test_integer_that_is_not_a_number() -> None:
    problem = only_problem(TXT2IMG, "a fox", steps="many")
    assert problem == "`steps` must be a whole number, not 'many'."


def test_integer_with_a_fraction_is_not_a_whole_number() -> None:
    assert "whole number" in only_problem(TXT2IMG, "a fox", steps="2.5")


def test_float_that_is_not_a_number() -> None:
    problem = only_problem(TXT2IMG, "a fox", cfg="high")
    assert problem == "`cfg` must be a number, not 'high'."


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_nan_and_infinity_are_refused(raw: str) -> None:
    assert only_problem(TXT2IMG, "a fox", cfg=raw) == "`cfg` must be a finite number."


def test_below_min_shows_both_bounds() -> None:
    assert only_problem(TXT2IMG, "a fox", steps="0") == "`steps` must be between 1 and 50, not 0."


def test_above_max_shows_both_bounds() -> None:
    problem = only_problem(TXT2IMG, "a fox", cfg="20.5")
    assert problem == "`cfg` must be between 0 and 20, not 20.5."


def test_only_a_lower_bound() -> None:
    assert only_problem(TXT2IMG, "a fox", seed="-1") == "`seed` must be at least 0, not -1."


def test_only_an_upper_bound() -> None:
    problem = only_problem(TXT2IMG, "a fox", strength="1.5")
    assert problem == "`strength` must be at most 1, not 1.5."


def test_choice_not_in_choices_lists_them() -> None:
    problem = only_problem(TXT2IMG, "a fox", style="cubist")
    assert problem == "`style` must be one of: Anime, Photo (not 'cubist')."


@pytest.mark.parametrize("raw", ["anime", "ANIME", " Anime "])
def test_choice_matches_case_insensitively_and_is_normalised(raw: str) -> None:
    assert validate_inputs(TXT2IMG, "a fox", {"style": raw})["style"] == "Anime"


@pytest.mark.parametrize("raw", ["yes", "Yes", "y", "true", "TRUE", "on", "1"])
def test_boolean_yes_variants(raw: str) -> None:
    assert validate_inputs(TXT2IMG, "a fox", {"hires": raw})["hires"] is True


@pytest.mark.parametrize("raw", ["no", "NO", "n", "false", "off", "0"])
def test_boolean_no_variants(raw: str) -> None:
    assert validate_inputs(TXT2IMG, "a fox", {"hires": raw})["hires"] is False


def test_boolean_other_words_are_refused() -> None:
    assert (
        only_problem(TXT2IMG, "a fox", hires="maybe") == "`hires` must be yes or no, not 'maybe'."
    )


def test_missing_required_prompt_shows_usage() -> None:
    assert only_problem(TXT2IMG, "") == "/flux needs a prompt: /flux <prompt>."


def test_missing_required_image_says_to_attach_one() -> None:
    problem = only_problem(UPSCALE, "", scale="2")
    assert problem == "/upscale needs an image: attach one with the command as its caption."


def test_missing_required_secondary_input_says_how_to_give_it() -> None:
    workflow = Workflow(
        name="w",
        command="w",
        inputs=(
            InputSpec(name="prompt", type=InputType.TEXT, required=True),
            InputSpec(name="width", type=InputType.INTEGER, required=True),
        ),
    )
    assert only_problem(workflow, "a fox") == "`width` is required: add width=…"


def test_prompt_longer_than_the_global_limit() -> None:
    problems = problems_of(TXT2IMG, "x" * 11, max_prompt_chars=10)
    assert problems == ["`prompt` is too long: 11 characters, at most 10."]


def test_prompt_at_the_global_limit_is_accepted() -> None:
    assert validate_inputs(TXT2IMG, "x" * 10, {}, max_prompt_chars=10) == {"prompt": "x" * 10}


def test_text_input_longer_than_its_own_max_length() -> None:
    workflow = Workflow(
        name="w",
        command="w",
        inputs=(
            InputSpec(name="prompt", type=InputType.TEXT, required=True),
            InputSpec(name="caption", type=InputType.TEXT, max_length=5),
        ),
    )
    problems = problems_of(workflow, "a fox", {"caption": "abcdef"})
    assert problems == ["`caption` is too long: 6 characters, at most 5."]


def test_main_input_max_length_applies_to_free_text() -> None:
    workflow = Workflow(
        name="w",
        command="w",
        inputs=(InputSpec(name="prompt", type=InputType.TEXT, required=True, max_length=3),),
    )
    assert problems_of(workflow, "abcd") == ["`prompt` is too long: 4 characters, at most 3."]


def test_free_text_for_a_workflow_without_text_input() -> None:
    assert only_problem(UPSCALE, "make it big", image="https://example.com/a.png") == (
        "/upscale takes no free text; use key=value options."
    )


def test_free_text_and_prompt_option_together() -> None:
    problem = only_problem(TXT2IMG, "a fox", prompt="a cat")
    assert problem == "Give `prompt` either as free text or as prompt=…, not both."


def test_duplicate_option_is_reported() -> None:
    problems = problems_of(TXT2IMG, "a fox", {"steps": "3"}, duplicates=("steps",))
    assert problems == ["`steps` is given more than once."]


def test_image_given_as_something_other_than_a_url() -> None:
    problem = only_problem(UPSCALE, "", image="/etc/passwd")
    assert problem == "`image` must be an image URL, or attach an image."


def test_empty_text_option_is_refused() -> None:
    assert only_problem(TXT2IMG, "a fox", negative="") == "`negative` is empty."


def test_every_problem_is_reported_together() -> None:
    problems = problems_of(
        TXT2IMG,
        "",
        {"colour": "red", "steps": "x", "cfg": "99", "style": "cubist", "hires": "maybe"},
        duplicates=("cfg",),
    )

    assert len(problems) == 7, problems
    joined = "\n".join(problems)
    for piece in (
        "`cfg` is given more than once",
        "Unknown option `colour`",
        "`steps` must be a whole number",
        "`cfg` must be between 0 and 20",
        "`style` must be one of",
        "`hires` must be yes or no",
        "/flux needs a prompt",
    ):
        assert piece in joined


def test_option_names_match_inputs_whatever_their_case() -> None:
    from core.command_line import parse_command_line

    workflow = Workflow(
        name="w",
        command="w",
        inputs=(
            InputSpec(name="prompt", type=InputType.TEXT, required=True),
            InputSpec(name="negativePrompt", type=InputType.TEXT),
        ),
    )
    parsed = parse_command_line("/w a fox negativePrompt=blurry")
    assert parsed is not None
    values = validate_inputs(workflow, parsed.text, parsed.options)
    assert values == {"prompt": "a fox", "negativePrompt": "blurry"}


def test_the_global_prompt_limit_caps_a_longer_input_limit() -> None:
    workflow = Workflow(
        name="w",
        command="w",
        inputs=(InputSpec(name="prompt", type=InputType.TEXT, required=True, max_length=5000),),
    )
    with pytest.raises(InvalidInput) as raised:
        validate_inputs(workflow, "x" * 3000, {}, max_prompt_chars=2000)
    assert raised.value.problems == ["`prompt` is too long: 3000 characters, at most 2000."]
