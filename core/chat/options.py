"""A workflow's inputs -> a command's typed options, within one platform's rules.

Discord's rules (https://discord.com/developers/docs/interactions/application-commands
#application-command-object-application-command-option-structure): names `^[-_a-z0-9]{1,32}$`,
descriptions 1-100 characters, at most 25 options with the required ones first, at most 25
choices (more are offered by autocomplete). Text platforms take options by input name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from core.chat.naming import fit, option_name, unique
from core.workflow import InputSpec, InputType, Workflow


class OptionKind(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    ATTACHMENT = "attachment"


_KIND_OF_INPUT = {
    InputType.TEXT: OptionKind.STRING,
    InputType.CHOICE: OptionKind.STRING,
    InputType.INTEGER: OptionKind.INTEGER,
    InputType.NUMBER: OptionKind.NUMBER,
    InputType.BOOLEAN: OptionKind.BOOLEAN,
    InputType.IMAGE: OptionKind.ATTACHMENT,
}


@dataclass(frozen=True)
class OptionRules:
    invalid: re.Pattern[str] | None
    """Characters replaced by `_` in option names; None keeps the input names as they are."""
    max_name: int
    max_description: int
    max_options: int | None
    max_choices: int | None
    required_first: bool
    main_required: bool
    """The main text input is a required option even when the workflow has a default."""

    @classmethod
    def free_form(cls) -> OptionRules:
        return cls(None, 1000, 1000, None, None, required_first=False, main_required=False)

    @classmethod
    def discord(cls) -> OptionRules:
        return cls(re.compile(r"[^a-z0-9_-]"), 32, 100, 25, 25, True, True)


@dataclass(frozen=True)
class OptionSpec:
    name: str
    """The option as the platform shows it."""
    input: str
    """The workflow input it fills."""
    kind: OptionKind
    required: bool
    description: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    autocomplete: bool = False
    """More choices than the platform lists: offered as the user types instead."""


def builtin_option(name: str, required: bool = True) -> OptionSpec:
    """A built-in command's argument; its description is the message key `opt.<name>`."""
    return OptionSpec(name, name, OptionKind.STRING, required, f"opt.{name}")


def compile_options(workflow: Workflow, rules: OptionRules) -> tuple[OptionSpec, ...]:
    options = _all_options(workflow, rules)
    if rules.max_options is not None:
        options = options[: rules.max_options]
    return tuple(options)


def takes_every_required_input(workflow: Workflow, rules: OptionRules) -> bool:
    """Whether the platform's option limit leaves room for every required input: a command
    that could never be given one of them could never run, so it is left off that platform."""
    required = sum(1 for option in _all_options(workflow, rules) if option.required)
    return rules.max_options is None or required <= rules.max_options


def _all_options(workflow: Workflow, rules: OptionRules) -> list[OptionSpec]:
    main = workflow.main_text_input
    names = _option_names(workflow.inputs, rules)
    options = [_option(spec, names[spec.name], spec is main, rules) for spec in workflow.inputs]
    if main is not None:  # free text's input leads, wherever the workflow declares it
        options.sort(key=lambda option: option.input != main.name)
    if rules.required_first:
        options.sort(key=lambda option: not option.required)
    return options


def _option_names(inputs: tuple[InputSpec, ...], rules: OptionRules) -> dict[str, str]:
    """Input name -> option name (core/chat/naming.py: `option_name`); collisions get `_2`,
    `_3` … in input order."""
    if rules.invalid is None:
        return {spec.name: spec.name for spec in inputs}
    taken: set[str] = set()
    names: dict[str, str] = {}
    for spec in inputs:
        name = unique(
            option_name(spec.name, rules.invalid, rules.max_name, "input"), taken, rules.max_name
        )
        taken.add(name)
        names[spec.name] = name
    return names


def _option(spec: InputSpec, name: str, is_main: bool, rules: OptionRules) -> OptionSpec:
    choices = spec.choices if spec.type is InputType.CHOICE else None
    too_many = choices is not None and rules.max_choices is not None
    return OptionSpec(
        name=name,
        input=spec.name,
        kind=_KIND_OF_INPUT[spec.type],
        required=spec.required or (is_main and rules.main_required),
        description=fit(_described(spec), rules.max_description),
        min=spec.min,
        max=spec.max,
        choices=choices,
        autocomplete=too_many and len(choices or ()) > (rules.max_choices or 0),
    )


def _described(spec: InputSpec) -> str:
    """The first of description, label and name with any text: a blank one would be empty."""
    for text in (spec.description, spec.label):
        if text and text.strip():
            return text
    return spec.name
