"""Workflows -> one platform's commands: names, descriptions and typed options, within that
platform's rules, with collisions resolved the same way every time."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.chat.naming import fit, slug, unique
from core.chat.options import (
    OptionRules,
    OptionSpec,
    builtin_option,
    compile_options,
    takes_every_required_input,
)
from core.workflow import Workflow


@dataclass(frozen=True)
class CommandRules:
    max_name: int
    max_description: int
    max_commands: int
    invalid: re.Pattern[str]
    """Characters replaced by `_` in a name."""
    options: OptionRules
    min_description: int = 0


TELEGRAM_RULES = CommandRules(32, 256, 100, re.compile(r"[^a-z0-9_]"), OptionRules.free_form())
"""https://core.telegram.org/bots/api#botcommand: 1-32 of a-z, 0-9 and _; at most 100."""
DISCORD_RULES = CommandRules(
    32, 100, 100, re.compile(r"[^a-z0-9_-]"), OptionRules.discord(), min_description=1
)
"""https://discord.com/developers/docs/interactions/application-commands: names
`^[-_a-z0-9]{1,32}$` (lower case), descriptions 1-100 characters, 100 global commands."""
CONSOLE_RULES = CommandRules(64, 1000, 1000, re.compile(r"[^a-z0-9_-]"), OptionRules.free_form())
API_RULES = CONSOLE_RULES
"""The HTTP API names workflows by their names; its messages name the command as on the
console (free-form options: the JSON fields are the inputs themselves)."""


@dataclass(frozen=True)
class CommandSpec:
    name: str
    description: str
    """For a workflow, its own description; for a built-in, the key of its description."""
    workflow: str | None = None
    """The workflow this command runs; None for built-in commands."""
    text_only: bool = True
    """Runnable from text alone, so it belongs in the platform's command menu."""
    options: tuple[OptionSpec, ...] = ()
    menu_priority: int = 0
    """The workflow's `menu_priority`: higher first into a menu too small for every one."""

    @property
    def builtin(self) -> bool:
        return self.workflow is None


BUILTIN_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", "cmd.start"),
    CommandSpec("help", "cmd.help", options=(builtin_option("command", required=False),)),
    CommandSpec("workflows", "cmd.workflows"),
    CommandSpec("status", "cmd.status", options=(builtin_option("run"),)),
    CommandSpec("cancel", "cmd.cancel", options=(builtin_option("run"),)),
    CommandSpec("runs", "cmd.runs", options=(builtin_option("count", required=False),)),
    CommandSpec("show", "cmd.show", options=(builtin_option("run"),)),
    CommandSpec("recipe", "cmd.recipe", options=(builtin_option("run"),)),
    CommandSpec("balance", "cmd.balance"),
    CommandSpec("usage", "cmd.usage"),
    CommandSpec("queue", "cmd.queue"),
    CommandSpec("buy", "cmd.buy"),
)
ADMIN_SPECS: tuple[CommandSpec, ...] = (
    CommandSpec("refresh", "cmd.refresh"),
    CommandSpec("stats", "cmd.stats"),
    CommandSpec("redeliver", "cmd.redeliver", options=(builtin_option("run"),)),
    CommandSpec("ban", "cmd.ban", options=(builtin_option("user"),)),
    CommandSpec("unban", "cmd.unban", options=(builtin_option("user"),)),
    CommandSpec("grant", "cmd.grant", options=(builtin_option("user"), builtin_option("credits"))),
    CommandSpec("refund", "cmd.refund", options=(builtin_option("payment"),)),
)
"""Commands only admins may use: in the command menus only admins see."""
ADMIN_COMMANDS: tuple[str, ...] = tuple(spec.name for spec in ADMIN_SPECS)
TYPED_ACTIONS = frozenset({"rerun", "reroll"})
"""Buttons' actions typed as commands (the console has no buttons)."""
ADMIN_GROUP = "comfy"
"""Where the admin commands live on platforms that group them (Discord's `/comfy …`)."""
RESERVED = (
    frozenset(c.name for c in BUILTIN_COMMANDS)
    | frozenset(ADMIN_COMMANDS)
    | TYPED_ACTIONS
    | {ADMIN_GROUP}
)


def sanitize_name(raw: str, rules: CommandRules) -> str:
    return slug(raw, rules.invalid, rules.max_name, "workflow")


def fit_description(text: str, rules: CommandRules, fallback: str) -> str:
    return fit(" ".join(text.split()) or fallback, rules.max_description)


def compile_commands(workflows: Iterable[Workflow], rules: CommandRules) -> list[CommandSpec]:
    """Built-ins first, then one command per visible workflow, sorted by workflow name.

    Collisions (with a built-in or another workflow) get `_2`, `_3`, ... in workflow-name order,
    so the same catalog always compiles to the same names.
    """
    specs = list(BUILTIN_COMMANDS)
    taken = set(RESERVED)
    for workflow in sorted(workflows, key=lambda w: w.name):
        if workflow.hidden or not takes_every_required_input(workflow, rules.options):
            continue
        name = unique(
            sanitize_name(workflow.command or workflow.name, rules), taken, rules.max_name
        )
        taken.add(name)
        fallback = f"Run {workflow.title or workflow.name}"
        description = fit_description(workflow.description, rules, fallback)
        options = compile_options(workflow, rules.options)
        specs.append(
            CommandSpec(
                name,
                description,
                workflow.name,
                workflow.text_only,
                options,
                workflow.menu_priority,
            )
        )
    return specs


def by_menu_priority(specs: Iterable[CommandSpec]) -> list[CommandSpec]:
    """The workflows' commands in the order a menu too small for all keeps them: higher
    `menu_priority` first, then by workflow name (the compiled order)."""
    return sorted((s for s in specs if not s.builtin), key=lambda s: -s.menu_priority)


def menu_commands(
    specs: Sequence[CommandSpec], rules: CommandRules, admin: bool = False
) -> list[CommandSpec]:
    """What a platform's command menu shows: built-ins, every workflow (those that need an image
    are described so), then for admins the admin commands; up to the platform's limit, keeping
    the built-ins and admin commands, and the workflows by `menu_priority`. The ones left out
    still run when typed (`menu_left_out`)."""
    extra = list(ADMIN_SPECS) if admin else []
    builtins = [s for s in specs if s.builtin]
    room = max(0, rules.max_commands - len(extra) - len(builtins))
    return builtins + by_menu_priority(specs)[:room] + extra


def menu_left_out(
    specs: Sequence[CommandSpec], rules: CommandRules, admin: bool = False
) -> list[CommandSpec]:
    """The workflows' commands a platform's menu has no room for, in priority order."""
    shown = {s.name for s in menu_commands(specs, rules, admin)}
    return [s for s in by_menu_priority(specs) if s.name not in shown]
