"""Content -> plain text for the text platforms (Telegram, the console).

The sentences are neutral (the message catalog); how a command, an option or a usage is written,
and every phrase only a platform knows (how to attach an image there), come from that platform's
`TextSyntax`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from core.actions import Action
from core.chat.commands import CommandSpec
from core.chat.content import (
    Content,
    GeneralHelp,
    Message,
    Problems,
    RunAccepted,
    RunList,
    RunView,
    Stats,
    Welcome,
    WorkflowHelp,
    WorkflowList,
)
from core.chat.presentation import format_bound, format_cost, format_duration, progress_bar
from core.locales.en import MESSAGES
from core.models import ProgressView, Run, RunStatus
from core.notices import Cmd, Hint, Notice, Opt, Usage
from core.workflow import InputSpec, InputType

_SHOWS_PROGRESS = frozenset({RunStatus.STARTED, RunStatus.RUNNING, RunStatus.UPLOADING})
_WAITING = frozenset({RunStatus.NOT_STARTED, RunStatus.QUEUED})
_END_REASONS = {
    RunStatus.FAILED: "run.failed",
    RunStatus.TIMEOUT: "run.timed_out",
    RunStatus.CANCELLED: "run.cancelled",
}


@dataclass(frozen=True)
class TextReply:
    text: str
    actions: tuple[Action, ...] = ()
    private: bool = False


class TextSyntax(Protocol):
    """How one text platform writes commands and options, and its own phrases (`hints`:
    `attach_image`, `attach_image_short`, `list_needs_image`, `image_help`, `options_hint`,
    `options_usage`, `main_input`, `run_usage`; formatted with the message's parameters)."""

    @property
    def hints(self) -> Mapping[str, str]: ...

    def command(self, name: str) -> str: ...

    def option(self, name: str) -> str: ...

    def usage(self, command: str, argument: str) -> str: ...


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


class TextRenderer:
    def __init__(self, syntax: TextSyntax, messages: Mapping[str, str] = MESSAGES) -> None:
        self._syntax = syntax
        self._messages = messages

    # -- notices -------------------------------------------------------------------------------

    def notice(self, notice: Notice, **defaults: object) -> str:
        params = {**defaults, **notice.params}
        return self.text(notice.key, **params)

    def text(self, key: str, **params: object) -> str:
        resolved = _Blank({name: self._word(value, params) for name, value in params.items()})
        return self._messages[key].format_map(resolved)

    def _word(self, value: object, params: Mapping[str, object]) -> str:
        if isinstance(value, Cmd):
            return self._syntax.command(value.name)
        if isinstance(value, Opt):
            return self._syntax.option(value.name)
        if isinstance(value, Usage):
            return self._syntax.usage(value.command, value.argument)
        if isinstance(value, Hint):
            template = self._syntax.hints[value.key]
            plain = {k: v for k, v in params.items() if isinstance(v, str | int | float)}
            return template.format_map(_Blank({k: str(v) for k, v in plain.items()}))
        return str(value)

    # -- content -------------------------------------------------------------------------------

    def render(self, content: Content) -> TextReply | None:
        """None for a run just accepted: its status message follows on its own."""
        if isinstance(content, RunAccepted):
            return None
        return TextReply(self._body(content), content.actions, content.private)

    def _body(self, content: Content) -> str:
        if isinstance(content, Message):
            return self.notice(content.notice)
        if isinstance(content, Problems):
            return "\n".join(self._problem_lines(content))
        if isinstance(content, WorkflowList):
            return self._workflow_list(content)
        if isinstance(content, Welcome):
            listing = self._workflow_list(content.workflows)
            return self.text("welcome", workflows=listing, help=Usage("help", "command"))
        if isinstance(content, GeneralHelp):
            return self._general_help()
        if isinstance(content, WorkflowHelp):
            return self._workflow_help(content)
        if isinstance(content, RunView):
            return self.run_status(content.run)
        if isinstance(content, RunList):
            return "\n".join(self.run_line(r) for r in content.runs) or self.text("no_runs")
        if isinstance(content, Stats):
            return self._stats(content)
        raise TypeError(f"no text rendering for {type(content).__name__}")

    def _problem_lines(self, content: Problems) -> list[str]:
        command = content.command
        lines = []
        for problem in content.problems:
            name = problem.input or ""
            lines.append(
                self.notice(
                    problem.notice,
                    command=Cmd(command),
                    option=Opt(name),
                    usage=Usage(command, name),
                    attach=Hint("attach_image"),
                    attach_short=Hint("attach_image_short"),
                    options_hint=Hint("options_hint"),
                )
            )
        return lines

    def _workflow_list(self, listing: WorkflowList) -> str:
        if not listing.entries:
            return self.text("list.empty")
        lines = [self.text("list.title")]
        for entry in listing.entries:
            about = entry.description or entry.title
            media = f" ({self._word(Hint('list_needs_image'), {})})" if entry.needs_media else ""
            lines.append(f"{self._syntax.command(entry.command)} — {about}{media}")
        return "\n".join(lines)

    def _general_help(self) -> str:
        rows = [
            (Cmd("workflows"), "help.workflows"),
            (Usage("help", "command"), "help.help"),
            (Usage("status", "run"), "help.status"),
            (Usage("cancel", "run"), "help.cancel"),
        ]
        lines = [self.text("help.title")]
        lines += [f"{self._word(command, {})} — {self.text(key)}" for command, key in rows]
        run = self.text("help.run", usage=Hint("run_usage"))
        return "\n".join(lines) + "\n\n" + run

    def _workflow_help(self, help: WorkflowHelp) -> str:
        entry = help.entry
        syntax = self._syntax
        main = help.main_input
        usage = syntax.usage(entry.command, main) if main else syntax.command(entry.command)
        lines = [f"{usage} {self._word(Hint('options_usage'), {})}"]
        if entry.description:
            lines.append(entry.description)
        if any(spec.type.media for spec in help.inputs):
            lines.append(self._word(Hint("image_help"), {}))
        lines.append(self.text("help.inputs"))
        for spec in help.inputs:
            name = help.options.get(spec.name, spec.name)
            lines.append(f"• {self._input_line(spec, name, spec.name == help.main_input)}")
        return "\n".join(lines)

    def _input_line(self, spec: InputSpec, name: str, is_main: bool) -> str:
        if spec.type is InputType.CHOICE:
            kind = self.text("kind.choice", choices=", ".join(spec.choices or ()))
        else:
            kind = self.text(f"kind.{spec.type.value}")
        parts = [f"{name} — {kind}"]
        if spec.min is not None or spec.max is not None:
            parts.append(f"{format_bound(spec.min)}–{format_bound(spec.max)}")
        if spec.max_length:
            parts.append(self.text("input.max_length", limit=spec.max_length))
        if spec.required:
            parts.append(self.text("input.required"))
        elif isinstance(spec.default, bool):
            parts.append(self.text("input.default", value=self.text(_yes_no(spec.default))))
        elif spec.default not in (None, ""):
            parts.append(self.text("input.default", value=spec.default))
        if is_main:
            parts.append(self._word(Hint("main_input"), {}))
        text = ", ".join(parts)
        return f"{text}. {spec.description}" if spec.description else text

    def _stats(self, stats: Stats) -> str:
        lines = [
            self.text("stats.workflows", count=stats.workflows),
            self.text("stats.runs", count=sum(stats.counts.values())),
        ]
        lines += [
            self.text("stats.status", status=status.value, count=count)
            for status, count in sorted(stats.counts.items())
            if count
        ]
        lines.append(self.text("stats.cost", cost=self.cost(stats.total_cost)))
        lines += [
            self.text(
                "stats.backend", backend=name, count=totals.runs, cost=self.cost(totals.cost_usd)
            )
            for name, totals in sorted(stats.backends.items())
        ]
        return "\n".join(lines)

    # -- runs ----------------------------------------------------------------------------------

    def status_word(self, status: RunStatus) -> str:
        return self.text(f"status.{status.value}")

    def _head(self, run: Run, status: RunStatus) -> str:
        return self.text(
            "run.head", status=self.status_word(status), workflow=run.workflow, run=run.id
        )

    def progress(self, view: ProgressView) -> str:
        """The live status message of an unfinished run."""
        lines = [self._head(view.run, view.status)]
        if view.status in _SHOWS_PROGRESS:
            lines.append(f"{progress_bar(view.progress)} {round(view.progress * 100)}%")
        if view.queue_position is not None and view.status in _WAITING:
            lines.append(self.text("run.queue_position", position=view.queue_position + 1))
        if view.live_status:
            lines.append(self._live(view.live_status))
        return "\n".join(lines)

    def _live(self, said: str) -> str:
        """A backend's own words about a run as they are, or the text of a `live.*` key."""
        return self.text(said) if said.startswith("live.") and said in self._messages else said

    def cost(self, usd: float | None) -> str:
        """A cost as users read it; a run that costs nothing is free."""
        return self.text("cost.free") if usd == 0 else format_cost(usd)

    def result_summary(self, run: Run) -> str:
        """The line under a result: what ran, how long it took, what it cost, or why it ended."""
        head = self._head(run, run.status)
        if run.status is RunStatus.SUCCESS:
            cost = self.cost(run.cost_usd)
            return f"{head}\n" + self.text(
                "run.time_and_cost", duration=format_duration(run.duration_s), cost=cost
            )
        reason = self.run_error(run)
        cost = "\n" + self.text("run.cost", cost=self.cost(run.cost_usd)) if run.cost_usd else ""
        return f"{head}\n{reason}{cost}"

    def run_error(self, run: Run) -> str:
        """Why a run ended: the engine's reasons are message keys, a backend's are its words."""
        if run.error:
            return self.text(run.error) if run.error in self._messages else run.error
        return self.text(_END_REASONS[run.status]) if run.status in _END_REASONS else ""

    def run_status(self, run: Run) -> str:
        if run.status.terminal:
            return self.result_summary(run)
        view = ProgressView(
            run=run,
            status=run.status,
            progress=run.progress,
            live_status=run.live_status,
            queue_position=run.queue_position,
        )
        return self.progress(view)

    def run_line(self, run: Run) -> str:
        return (
            f"{run.id} {run.workflow} {run.status.value} {format_duration(run.duration_s)} "
            f"{self.cost(run.cost_usd)} {run.chat.user_key}"
        )

    def button(self, action: Action) -> str:
        return self.text(f"button.{action.kind.value}")

    def command_description(self, spec: CommandSpec) -> str:
        """A menu line: a workflow's own description, or a built-in's with its usage."""
        if not spec.builtin:
            return spec.description
        text = self.text(spec.description)
        if spec.options:
            argument = self.text(f"arg.{spec.options[0].name}")
            return f"{text}: {self._syntax.usage(spec.name, argument)}"
        return text


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"
