"""The Discord front door: a slash command's typed options -> one typed operation.

Interaction data: https://discord.com/developers/docs/interactions/receiving-and-responding
#interaction-object-application-command-data-structure. Options arrive typed (string, integer,
number, boolean, attachment ids resolved in `data.resolved.attachments`) and named as the
compiled command names them; each is handed to the workflow input it fills. Anything Discord
let through that no longer fits (a command registered before the catalog changed) becomes a
problem naming the option, reported with the rest by the engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from adapters.discord.attachments import AttachmentFetcher, DiscordAttachment
from adapters.discord.slash_commands import BUILTINS, LIMIT_MAX
from core.chat.book import CommandBook
from core.chat.commands import ADMIN_GROUP, CommandSpec
from core.chat.operations import (
    Ban,
    CancelRun,
    Grant,
    Help,
    ListRuns,
    ListWorkflows,
    MissingArgument,
    Operation,
    Redeliver,
    RefreshCatalog,
    RefundPayment,
    RunWorkflow,
    ShowBalance,
    ShowQueue,
    ShowRecipe,
    ShowRun,
    ShowStats,
    ShowStatus,
    ShowUsage,
    Unban,
    UnknownCommand,
)
from core.chat.options import OptionKind
from core.notices import Problem
from core.requests import Attachment, InputValue

SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
AUTOCOMPLETE_MAX = 25
_MENTION = re.compile(r"^<@!?(\d+)>$")

Data = Mapping[str, Any]


class InteractionDoor:
    def __init__(self, book: CommandBook, fetcher: AttachmentFetcher) -> None:
        self._book = book
        self._fetcher = fetcher

    def operation(self, data: Data) -> Operation:
        name = str(data.get("name", ""))
        sub, options = _invoked(data)
        if name == ADMIN_GROUP:
            return _admin(sub, options)
        if name in BUILTINS:
            return _builtin(name, _values(options))
        spec = self._book.spec(name)
        if spec is None or spec.workflow is None:
            return UnknownCommand(name)
        return self._run(spec, options, data.get("resolved") or {})

    def _run(self, spec: CommandSpec, options: Sequence[Data], resolved: Data) -> RunWorkflow:
        by_name = {option.name: option for option in spec.options}
        inputs: dict[str, InputValue] = {}
        media: dict[str, Attachment] = {}
        problems: list[Problem] = []
        for given in options:
            option = by_name.get(str(given.get("name")))
            value = given.get("value")
            if option is None or not isinstance(value, str | int | float | bool):
                known = ", ".join(o.name for o in spec.options) or "-"
                problems.append(Problem.of("input.unknown", str(given.get("name")), known=known))
            elif option.kind is OptionKind.ATTACHMENT:
                found = (resolved.get("attachments") or {}).get(str(value))
                if isinstance(found, Mapping):
                    media[option.input] = DiscordAttachment.of(self._fetcher, found)
            else:
                inputs[option.input] = value
        assert spec.workflow is not None
        return RunWorkflow(spec.workflow, inputs, media, tuple(problems))

    def choices(self, data: Data) -> list[str]:
        """Autocomplete: the choices of the focused option that match what was typed so far."""
        name = str(data.get("name", ""))
        focused = next((o for o in _invoked(data)[1] if o.get("focused")), None)
        if focused is None:
            return []
        typed = str(focused.get("value") or "").strip().lower()
        if name == "help":
            candidates = [s.name for s in self._book.specs() if s.workflow is not None]
        else:
            spec = self._book.spec(name)
            option = next(
                (o for o in (spec.options if spec else ()) if o.name == focused.get("name")),
                None,
            )
            candidates = list(option.choices or ()) if option is not None else []
        starts = [c for c in candidates if c.lower().startswith(typed)]
        inside = [c for c in candidates if typed in c.lower() and c not in starts]
        return (starts + inside)[:AUTOCOMPLETE_MAX]


def _invoked(data: Data) -> tuple[str, list[Data]]:
    """The subcommand run (or "") and its options."""
    options: list[Data] = list(data.get("options") or [])
    if options and options[0].get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP):
        return str(options[0].get("name")), list(options[0].get("options") or [])
    return "", options


def _values(options: Sequence[Data]) -> dict[str, Any]:
    return {str(o.get("name")): o.get("value") for o in options if "value" in o}


def _text(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _builtin(name: str, values: Mapping[str, Any]) -> Operation:
    if name == "workflows":
        return ListWorkflows()
    if name == "help":
        command = _text(values.get("command"))
        return Help(command.lstrip("/") if command else None)
    if name == "runs":
        return _list_runs(values.get("count"), everyone=False)
    if name in _PLAIN:
        return _PLAIN[name]()
    run = _text(values.get("run"))
    if run is None:
        return MissingArgument(name, "run")
    return _RUN_COMMANDS[name](run)


_PLAIN: dict[str, Callable[[], Operation]] = {
    "balance": ShowBalance,
    "usage": ShowUsage,
    "queue": ShowQueue,
}
_RUN_COMMANDS: dict[str, Callable[[str], Operation]] = {
    "status": ShowStatus,
    "cancel": CancelRun,
    "show": ShowRun,
    "recipe": ShowRecipe,
}


def _list_runs(count: object, *, everyone: bool) -> ListRuns:
    limit = max(1, min(count, LIMIT_MAX)) if isinstance(count, int) else 10
    return ListRuns(limit, everyone=everyone)


def _admin(sub: str, options: Sequence[Data]) -> Operation:
    values = _values(options)
    if sub == "refresh":
        return RefreshCatalog()
    if sub == "stats":
        return ShowStats()
    if sub == "runs":
        return _list_runs(values.get("count"), everyone=True)
    if sub == "redeliver":
        run = _text(values.get("run"))
        return Redeliver(run) if run else MissingArgument(f"{ADMIN_GROUP} {sub}", "run")
    if sub == "refund":
        payment = _text(values.get("payment"))
        return (
            RefundPayment(payment)
            if payment
            else MissingArgument(f"{ADMIN_GROUP} {sub}", "payment")
        )
    if sub not in ("ban", "unban", "grant"):
        return UnknownCommand(f"{ADMIN_GROUP} {sub}".strip())
    user = _text(values.get("user"))
    if user is None:
        return MissingArgument(f"{ADMIN_GROUP} {sub}", "user")
    mention = _MENTION.match(user)
    target = mention.group(1) if mention else user
    if sub == "grant":
        credits = _text(values.get("credits"))
        return (
            Grant(target, credits)
            if credits
            else MissingArgument(f"{ADMIN_GROUP} {sub}", "credits")
        )
    return Ban(target) if sub == "ban" else Unban(target)
