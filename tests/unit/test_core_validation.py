"""Command arguments checked against a workflow's inputs: typed values or every problem at once,
each as a Telegram user reads it."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.telegram.wording import SYNTAX
from core.chat.command_line import CommandLine, Given, Part, Word, parse_command_line
from core.chat.content import Problems
from core.chat.text_door import _run_workflow
from core.chat.text_render import TextRenderer
from core.errors import InvalidInput
from core.requests import InputValue
from core.validation import INT64_MAX, validate_inputs
from core.workflow import InputSpec, InputType, Workflow

WORDS = TextRenderer(SYNTAX)


def check(
    workflow: Workflow,
    text: str,
    options: dict[str, str],
    *,
    image_inputs: frozenset[str] = frozenset(),
    duplicates: tuple[str, ...] = (),
    max_prompt_chars: int = 2000,
) -> dict[str, Any]:
    """What the text front door and the launcher do with a command's arguments."""
    words: list[Part] = [Word(word) for word in text.split()]
    twice: list[Part] = [Given(name, options[name], f"{name}=…") for name in duplicates]
    given: list[Part] = [Given(name, value, f"{name}={value}") for name, value in options.items()]
    line = CommandLine(workflow.command, tuple(words + twice + given))
    operation = _run_workflow(workflow, line)
    return validate_inputs(
        workflow,
        operation.inputs,
        media=image_inputs,
        max_prompt_chars=max_prompt_chars,
        found=operation.problems,
    )


def rendered(workflow: Workflow, error: InvalidInput) -> list[str]:
    reply = WORDS.render(Problems(command=workflow.command, problems=error.problems))
    assert reply is not None
    return reply.text.splitlines()


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
        check(workflow, text, options or {}, **kwargs)
    return rendered(workflow, caught.value)


def only_problem(workflow: Workflow, text: str = "", **options: str) -> str:
    problems = problems_of(workflow, text, options)
    assert len(problems) == 1, problems
    return problems[0]


# -- happy path --------------------------------------------------------------------------------


def test_valid_arguments_come_back_typed() -> None:
    values = check(
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
    assert check(TXT2IMG, "a fox", {}) == {"prompt": "a fox"}


def test_prompt_may_be_given_as_an_option_instead_of_free_text() -> None:
    assert check(TXT2IMG, "", {"prompt": "a fox"}) == {"prompt": "a fox"}


def test_a_whole_number_for_a_number_input_is_accepted() -> None:
    assert check(TXT2IMG, "x", {"cfg": "7"})["cfg"] == 7.0


def test_bounds_are_inclusive() -> None:
    values = check(TXT2IMG, "x", {"steps": "50", "cfg": "0"})
    assert (values["steps"], values["cfg"]) == (50, 0.0)


def test_required_image_filled_by_an_attachment_is_accepted() -> None:
    values = check(UPSCALE, "", {"scale": "2"}, image_inputs=frozenset({"image"}))
    assert values == {"scale": 2}


def test_image_given_as_url_is_accepted() -> None:
    values = check(UPSCALE, "", {"image": "https://example.com/in.jpg"})
    assert values == {"image": "https://example.com/in.jpg"}


# -- one message per kind of problem -----------------------------------------------------------


def test_invalid_input_names_every_problems_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        check(TXT2IMG, "", {"steps": "many", "colour": "red"})
    assert [p.input for p in caught.value.problems] == ["colour", "prompt", "steps"]
    assert caught.value.workflow == "txt2img"


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
    assert check(TXT2IMG, "a fox", {"style": raw})["style"] == "Anime"


@pytest.mark.parametrize("raw", ["yes", "Yes", "y", "true", "TRUE", "on", "1"])
def test_boolean_yes_variants(raw: str) -> None:
    assert check(TXT2IMG, "a fox", {"hires": raw})["hires"] is True


@pytest.mark.parametrize("raw", ["no", "NO", "n", "false", "off", "0"])
def test_boolean_no_variants(raw: str) -> None:
    assert check(TXT2IMG, "a fox", {"hires": raw})["hires"] is False


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
    assert check(TXT2IMG, "x" * 10, {}, max_prompt_chars=10) == {"prompt": "x" * 10}


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
    values = check(workflow, parsed.text, parsed.options)
    assert parsed.options == {"negativeprompt": "blurry"}
    assert values == {"prompt": "a fox", "negativePrompt": "blurry"}


def test_the_global_prompt_limit_caps_a_longer_input_limit() -> None:
    workflow = Workflow(
        name="w",
        command="w",
        inputs=(InputSpec(name="prompt", type=InputType.TEXT, required=True, max_length=5000),),
    )
    assert problems_of(workflow, "x" * 3000, max_prompt_chars=2000) == [
        "`prompt` is too long: 3000 characters, at most 2000."
    ]


# -- typed values (Discord options, JSON bodies) ------------------------------------------------


def typed(**values: InputValue) -> dict[str, Any]:
    return validate_inputs(TXT2IMG, {"prompt": "a fox", **values})


def typed_problems(**values: InputValue) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        typed(**values)
    return rendered(TXT2IMG, caught.value)


def test_typed_values_are_taken_as_they_come() -> None:
    values = typed(steps=30, cfg=7, hires=True, style="anime")
    assert values == {"prompt": "a fox", "steps": 30, "cfg": 7.0, "hires": True, "style": "Anime"}
    assert type(values["cfg"]) is float


def test_typed_values_of_the_wrong_kind_are_refused() -> None:
    assert typed_problems(steps=True) == ["`steps` must be a whole number, not 'True'."]
    assert typed_problems(steps=2.5) == ["`steps` must be a whole number, not '2.5'."]
    assert typed_problems(cfg=False) == ["`cfg` must be a number, not 'False'."]
    assert typed_problems(hires=1) == ["`hires` must be yes or no, not '1'."]
    assert typed_problems(negative=3) == ["`negative` must be text, not '3'."]


def test_an_unknown_input_is_refused_by_name() -> None:
    assert typed_problems(colour="red")[0].startswith("Unknown option `colour`.")


@pytest.mark.parametrize("raw", ["99999999999999999999999", str(INT64_MAX + 1)])
def test_whole_numbers_beyond_64_bits_get_the_inputs_own_message(raw: str) -> None:
    assert problems_of(TXT2IMG, "a fox", {"seed": raw}) == [
        f"`seed` must be between 0 and {INT64_MAX}, not {raw}."
    ]
    unbounded = Workflow(
        name="w", command="w", inputs=(InputSpec(name="n", type=InputType.INTEGER),)
    )
    too_small = str(-INT64_MAX - 2)
    assert problems_of(unbounded, "", {"n": too_small}) == [
        f"`n` must be between {-INT64_MAX - 1} and {INT64_MAX}, not {too_small}."
    ]
    assert check(unbounded, "", {"n": str(INT64_MAX)}) == {"n": INT64_MAX}
