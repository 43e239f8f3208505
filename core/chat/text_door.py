"""The text front door (Telegram, the console): a command line -> one typed operation, parsed
exactly once. Free text goes to the workflow's main text input, options to the others (see
core/chat/line_inputs.py for the forms people type), attachments to the image inputs not given
otherwise."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.chat.book import CommandBook
from core.chat.command_line import CommandLine, parse_command_line
from core.chat.line_inputs import read_inputs
from core.chat.operations import (
    Ban,
    BuyCredits,
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
    Rerun,
    RunWorkflow,
    ShowBalance,
    ShowQueue,
    ShowRecipe,
    ShowRun,
    ShowStats,
    ShowStatus,
    ShowUsage,
    Start,
    Unban,
    UnknownCommand,
)
from core.notices import Problem
from core.requests import Attachment
from core.workflow import Workflow

_RUN_COMMANDS: dict[str, Callable[[str], Operation]] = {
    "status": ShowStatus,
    "cancel": CancelRun,
    "rerun": Rerun,
    "reroll": lambda run_id: Rerun(run_id, new_seed=True),
    "show": ShowRun,
    "recipe": ShowRecipe,
    "redeliver": Redeliver,
}
_USER_COMMANDS: dict[str, Callable[[str], Operation]] = {"ban": Ban, "unban": Unban}
_PLAIN: dict[str, Callable[[], Operation]] = {
    "start": Start,
    "workflows": ListWorkflows,
    "refresh": RefreshCatalog,
    "stats": ShowStats,
    "balance": ShowBalance,
    "usage": ShowUsage,
    "queue": ShowQueue,
    "buy": BuyCredits,
}
EVERYONE = "all"
"""`/runs all`: everybody's runs (admins)."""
MAX_RUNS_LISTED = 50


@dataclass(frozen=True)
class ParsedLine:
    command: str
    addressee: str | None
    """`@botname` after the command: in groups, a command may be meant for another bot."""
    operation: Operation
    takes_media: bool = False
    """A workflow with image inputs: the platform should gather the message's images."""


class TextFrontDoor:
    def __init__(self, book: CommandBook) -> None:
        self._book = book

    def parse(self, line: str, *, replied_user: str | None = None) -> ParsedLine | None:
        """None when the line is not a command at all. `replied_user`: the `platform:id` of
        the author of the message this one replies to (`/ban` as a reply bans them)."""
        parsed = parse_command_line(line)
        if parsed is None:
            return None
        workflow = self._book.workflow(parsed.command)
        if workflow is not None:
            operation: Operation = _run_workflow(workflow, parsed)
        else:
            operation = _builtin(parsed, replied_user)
        media = workflow is not None and bool(workflow.image_inputs)
        return ParsedLine(parsed.command, parsed.addressee, operation, media)

    def attach(self, run: RunWorkflow, attachments: Sequence[Attachment]) -> RunWorkflow:
        """Give attachments, in order, to the image inputs not already given by value."""
        if not attachments:
            return run
        workflow = self._book.workflow_named(run.workflow)
        images = workflow.image_inputs if workflow else ()
        free = [i.name for i in images if i.name not in run.inputs]
        problems = run.problems
        if len(attachments) > len(free):
            extra = Problem.of("input.too_many_images", expected=len(free), count=len(attachments))
            problems = (*problems, extra)
        media = {**run.media, **dict(zip(free, attachments, strict=False))}
        return dataclasses.replace(run, media=media, problems=problems)


def _builtin(parsed: CommandLine, replied_user: str | None) -> Operation:
    command, argument = parsed.command, parsed.text.strip()
    words = argument.split()
    first = words[0] if words else ""
    if command in _PLAIN:
        return _PLAIN[command]()
    if command == "help":
        topic = argument.lstrip("/").lower()
        return Help(topic or None)
    if command == "runs":
        return _list_runs(words)
    if command in _RUN_COMMANDS:
        return _RUN_COMMANDS[command](first) if first else MissingArgument(command, "run")
    if command == "grant":
        return _grant(words, replied_user)
    if command == "refund":
        return RefundPayment(first) if first else MissingArgument(command, "payment")
    if command in _USER_COMMANDS:
        target = first or replied_user
        return _USER_COMMANDS[command](target) if target else MissingArgument(command, "user")
    return UnknownCommand(command)


def _grant(words: list[str], replied_user: str | None) -> Operation:
    """`/grant <user> <credits>`, or `/grant <credits>` in reply to the user's message."""
    if len(words) >= 2:
        return Grant(words[0], words[1])
    if len(words) == 1 and replied_user:
        return Grant(replied_user, words[0])
    return MissingArgument("grant", "user" if not words else "credits")


def _list_runs(words: list[str]) -> ListRuns:
    everyone = bool(words) and words[0].lower() == EVERYONE
    counts = [int(w) for w in words if w.isdigit() and int(w) > 0]
    limit = min(counts[0], MAX_RUNS_LISTED) if counts else ListRuns.limit
    return ListRuns(limit, everyone=everyone)


def _run_workflow(workflow: Workflow, parsed: CommandLine) -> RunWorkflow:
    found = read_inputs(workflow, parsed.parts)
    inputs, problems = found.inputs, found.problems
    text = " ".join(found.prose)
    main = workflow.main_text_input
    if text:
        if main is None:
            problems.append(Problem.of("input.no_free_text"))
        elif main.name in inputs:
            problems.append(Problem.of("input.both_text_and_option", main.name))
        else:
            inputs[main.name] = text
    return RunWorkflow(workflow.name, inputs, problems=tuple(problems))
