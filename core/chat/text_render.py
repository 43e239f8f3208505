"""Content -> plain text for the text platforms (Telegram, the console), in the reader's language.

The sentences are neutral (the message catalogs, core/locales); how a command, an option or a
usage is written, and every phrase only a platform knows (how to attach an image there), come
from that platform's `TextSyntax`, in the same language. A renderer speaks one language;
`for_chat(chat)` gives the one for whoever is being answered.
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
    RecipeCard,
    RunAccepted,
    RunList,
    RunShown,
    RunView,
    Stats,
    Welcome,
    WorkflowHelp,
    WorkflowList,
)
from core.chat.naming import fit
from core.chat.presentation import format_bound, format_cost
from core.chat.run_text import RecipeBook, RunText
from core.locales import DEFAULT_LANGUAGE, messages_for, pick_language
from core.models import ChatRef, ProgressView, Run, RunStatus
from core.notices import Cmd, Hint, Notice, Opt, Usage
from core.workflow import InputSpec, InputType

HINT_KEYS = frozenset(
    {
        "attach_image",
        "attach_image_short",
        "list_needs_image",
        "image_help",
        "options_hint",
        "options_usage",
        "option_forms",
        "main_input",
        "run_usage",
        "runs_all_usage",
        "use_image",
    }
)
"""Every phrase a `TextSyntax` supplies, in each language it speaks."""
ECHO_MAX = 80
"""Longest piece of the user's own input repeated in an answer (a bad value, a command)."""


@dataclass(frozen=True)
class TextReply:
    text: str
    actions: tuple[Action, ...] = ()
    private: bool = False
    copyable: tuple[str, ...] = ()
    """Parts of `text` worth copying in one tap (run ids, a recipe's command), for platforms
    that can mark them so."""


class TextSyntax(Protocol):
    """How one text platform writes commands and options, and its own phrases (`HINT_KEYS`,
    formatted with the message's parameters) in each language."""

    def hints(self, language: str) -> Mapping[str, str]: ...

    def command(self, name: str) -> str: ...

    def option(self, name: str) -> str: ...

    def usage(self, command: str, argument: str) -> str: ...

    def assignment(self, name: str, value: str) -> str:
        """An input given with its value, as typed there (quoted as needed)."""
        ...


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


class _Family:
    """What the renderers of one platform share, whatever their language."""

    def __init__(self, book: RecipeBook | None, default: str) -> None:
        self.book = book
        self.default = default
        self.members: dict[str, TextRenderer] = {}


class TextRenderer:
    def __init__(
        self,
        syntax: TextSyntax,
        book: RecipeBook | None = None,
        language: str = DEFAULT_LANGUAGE,
        *,
        _family: _Family | None = None,
    ) -> None:
        self._syntax = syntax
        self._family = _family or _Family(book, pick_language(language))
        self.language = pick_language(language, self._family.default)
        self._messages = messages_for(self.language)
        self._hints = syntax.hints(self.language)
        self._family.members.setdefault(self.language, self)
        self.runs = RunText(self, syntax, self._family)

    def use_book(self, book: RecipeBook) -> None:
        """Where workflows and commands are looked up, once the chat layer exists (for every
        language of this platform)."""
        self._family.book = book

    # -- languages -------------------------------------------------------------------------

    def for_language(self, tag: str | None) -> TextRenderer:
        """The renderer for `tag` (the default language when there is no catalog for it)."""
        language = pick_language(tag, self._family.default)
        found = self._family.members.get(language)
        if found is None:
            found = TextRenderer(self._syntax, language=language, _family=self._family)
        return found

    def for_chat(self, chat: ChatRef) -> TextRenderer:
        return self.for_language(chat.language)

    # -- notices -------------------------------------------------------------------------------

    def notice(self, notice: Notice, **defaults: object) -> str:
        """A notice, with every piece of the user's own input in it shortened, and a run's
        status (`status=run.status`, or its value) in words."""
        params = {**defaults, **notice.params}
        status = params.get("status")
        if isinstance(status, str) and status in _STATUSES:
            params["status"] = self.status_word(RunStatus(status))
        return self.text(notice.key, **{k: _shortened(v) for k, v in params.items()})

    def text(self, key: str, **params: object) -> str:
        words = _Blank({n: self.word(v) for n, v in params.items() if not isinstance(v, Hint)})
        for name, value in params.items():
            if isinstance(value, Hint):
                words[name] = self._hints[value.key].format_map(words)
        return self._messages[key].format_map(words)

    def word(self, value: object) -> str:
        """One parameter in the platform's words."""
        if isinstance(value, Cmd):
            return self._syntax.command(fit(value.name, ECHO_MAX))
        if isinstance(value, Opt):
            return self._syntax.option(value.name)
        if isinstance(value, Usage):
            argument = self._messages.get(f"arg.{value.argument}", value.argument)
            return self._syntax.usage(value.command, argument)
        if isinstance(value, Hint):
            return self._hints[value.key].format_map(_Blank())
        if isinstance(value, Notice):
            return self.notice(value)
        return str(value)

    def hint(self, key: str, **params: object) -> str:
        return self._hints[key].format_map(_Blank({n: self.word(v) for n, v in params.items()}))

    # -- content -------------------------------------------------------------------------------

    def render(self, content: Content) -> TextReply | None:
        """None for a run just accepted: its status message follows on its own."""
        if isinstance(content, RunAccepted):
            return None
        copyable: tuple[str, ...] = ()
        if isinstance(content, RunList | RunView | RecipeCard | RunShown):
            copyable = self.runs.copyable(content)
        return TextReply(self._body(content), content.actions, content.private, copyable)

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
            return self._general_help(content.admin)
        if isinstance(content, WorkflowHelp):
            return self._workflow_help(content)
        if isinstance(content, RunView):
            return self.run_status(content.run)
        if isinstance(content, RunShown):
            return self.result_summary(content.result.run)
        if isinstance(content, RunList):
            return self.runs.run_list(content)
        if isinstance(content, RecipeCard):
            return self.runs.recipe_card(content.recipe)
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
            media = f" ({self.hint('list_needs_image')})" if entry.needs_media else ""
            lines.append(f"{self._syntax.command(entry.command)} — {about}{media}")
        return "\n".join(lines)

    def _general_help(self, admin: bool) -> str:
        rows: list[tuple[object, str]] = [
            (Cmd("workflows"), "help.workflows"),
            (Usage("help", "command"), "help.help"),
            (Usage("status", "run"), "help.status"),
            (Usage("cancel", "run"), "help.cancel"),
            (Cmd("runs"), "help.runs"),
            (Usage("show", "run"), "help.show"),
            (Usage("recipe", "run"), "help.recipe"),
        ]
        lines = [self.text("help.title")]
        lines += [f"{self.word(command)} — {self.text(key)}" for command, key in rows]
        lines += ["", self.text("help.run", usage=Hint("run_usage"))]
        lines.append(self.text("help.forms", forms=Hint("option_forms")))
        if admin:
            admin_rows: list[tuple[object, str]] = [
                (Cmd("refresh"), "help.refresh"),
                (Cmd("stats"), "help.stats"),
                (Hint("runs_all_usage"), "help.runs_all"),
                (Usage("ban", "user"), "help.ban"),
                (Usage("unban", "user"), "help.unban"),
            ]
            lines += ["", self.text("help.admin_title")]
            lines += [f"{self.word(command)} — {self.text(key)}" for command, key in admin_rows]
        return "\n".join(lines)

    def _workflow_help(self, help: WorkflowHelp) -> str:
        entry = help.entry
        syntax = self._syntax
        main = help.main_input
        usage = syntax.usage(entry.command, main) if main else syntax.command(entry.command)
        lines = [f"{usage} {self.hint('options_usage')}"]
        if entry.description:
            lines.append(entry.description)
        if any(spec.type.media for spec in help.inputs):
            lines.append(self.hint("image_help"))
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
        elif spec.is_seed:
            parts.append(self.text("input.random_seed"))
        elif isinstance(spec.default, bool):
            parts.append(self.text("input.default", value=self.text(_yes_no(spec.default))))
        elif spec.default not in (None, ""):
            parts.append(self.text("input.default", value=spec.default))
        if is_main:
            parts.append(self.hint("main_input"))
        text = ", ".join(parts)
        return f"{text}. {spec.description}" if spec.description else text

    def _stats(self, stats: Stats) -> str:
        lines = [
            self.text("stats.workflows", count=stats.workflows),
            self.text("stats.runs", count=sum(stats.counts.values())),
        ]
        lines += [
            self.text("stats.status", status=self.status_word(status), count=count)
            for status, count in sorted(stats.counts.items())
            if count
        ]
        lines.append(self.text("stats.cost", cost=format_cost(stats.total_cost)))
        return "\n".join(lines)

    # -- runs (see core/chat/run_text.py) ------------------------------------------------------

    def status_word(self, status: RunStatus) -> str:
        return self.text(f"status.{status.value}")

    def progress(self, view: ProgressView) -> str:
        """The live status message of an unfinished run."""
        return self.runs.progress(view)

    def result_summary(self, run: Run) -> str:
        """The lines under a result: what ran, with what, how long it took, what it cost, or
        why it ended."""
        return self.runs.result_summary(run)

    def run_status(self, run: Run) -> str:
        return self.runs.run_status(run)

    def button(self, action: Action) -> str:
        return self.text(f"button.{action.kind.value}", run=action.run_id[:6])

    def command_description(self, spec: CommandSpec) -> str:
        """A menu line: a workflow's own description (marked when it needs an image), or a
        built-in's with its usage."""
        if not spec.builtin:
            if spec.text_only:
                return spec.description
            return self.text("cmd.needs_image", description=spec.description)
        text = self.text(spec.description)
        if spec.options:
            argument = self.text(f"arg.{spec.options[0].name}")
            return f"{text}: {self._syntax.usage(spec.name, argument)}"
        return text


_STATUSES = frozenset(status.value for status in RunStatus)


def _shortened(value: object) -> object:
    return fit(value, ECHO_MAX) if isinstance(value, str) else value


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"
