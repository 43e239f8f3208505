"""Workflow -> platform command: name rules, limits, deterministic collision handling."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.models import Workflow


@dataclass(frozen=True)
class CommandRules:
    max_name: int
    max_description: int
    max_commands: int
    invalid: re.Pattern[str]
    """Characters replaced by `_` in a name."""


TELEGRAM_RULES = CommandRules(32, 256, 100, re.compile(r"[^a-z0-9_]"))
DISCORD_RULES = CommandRules(32, 100, 100, re.compile(r"[^a-z0-9_-]"))
CONSOLE_RULES = CommandRules(64, 1000, 1000, re.compile(r"[^a-z0-9_-]"))


@dataclass(frozen=True)
class CommandSpec:
    name: str
    description: str
    workflow: str | None = None
    """The workflow this command runs; None for built-in commands."""
    text_only: bool = True
    """Runnable from text alone, so it belongs in the platform's command menu."""


BUILTIN_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", "Start here: what this bot does"),
    CommandSpec("help", "How to use a command: /help <command>"),
    CommandSpec("workflows", "List the workflows you can run"),
    CommandSpec("status", "Show a run: /status <run id>"),
    CommandSpec("cancel", "Cancel a run: /cancel <run id>"),
)
ADMIN_COMMANDS: tuple[str, ...] = ("refresh", "stats", "runs", "ban", "unban")
RESERVED = frozenset(c.name for c in BUILTIN_COMMANDS) | frozenset(ADMIN_COMMANDS) | {"rerun"}


def sanitize_name(raw: str, rules: CommandRules) -> str:
    """Lower-case ASCII, other characters to `_`, runs collapsed, cut to the limit."""
    ascii_name = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    name = rules.invalid.sub("_", ascii_name.lower())
    name = re.sub(r"_+", "_", name).strip("_")
    return name[: rules.max_name].rstrip("_") or "workflow"


def fit_description(text: str, rules: CommandRules, fallback: str) -> str:
    text = " ".join(text.split()) or fallback
    if len(text) > rules.max_description:
        text = text[: rules.max_description - 1].rstrip() + "…"
    return text


def compile_commands(workflows: Iterable[Workflow], rules: CommandRules) -> list[CommandSpec]:
    """Built-ins first, then one command per visible workflow, sorted by workflow name.

    Collisions (with a built-in or another workflow) get `_2`, `_3`, ... in workflow-name order,
    so the same catalog always compiles to the same names.
    """
    specs = list(BUILTIN_COMMANDS)
    taken = set(RESERVED)
    for workflow in sorted(workflows, key=lambda w: w.name):
        if workflow.hidden:
            continue
        name = _unique(sanitize_name(workflow.command or workflow.name, rules), taken, rules)
        taken.add(name)
        fallback = f"Run {workflow.title or workflow.name}"
        description = fit_description(workflow.description, rules, fallback)
        specs.append(CommandSpec(name, description, workflow.name, workflow.text_only))
    return specs


def menu_commands(specs: Sequence[CommandSpec], rules: CommandRules) -> list[CommandSpec]:
    """What a platform's command menu shows: built-ins and text-only workflows, up to the limit."""
    return [s for s in specs if s.text_only][: rules.max_commands]


def command_map(specs: Sequence[CommandSpec]) -> dict[str, str]:
    """Command name -> workflow name, for the commands that run workflows."""
    return {s.name: s.workflow for s in specs if s.workflow is not None}


def _unique(name: str, taken: set[str], rules: CommandRules) -> str:
    if name not in taken:
        return name
    counter = 2
    while True:
        suffix = f"_{counter}"
        candidate = name[: rules.max_name - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        counter += 1
