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

from core.actions import Action, ActionKind
from core.chat.commands import CommandSpec
from core.chat.content import (
    BalanceCard,
    Content,
    CreditOffer,
    GeneralHelp,
    Message,
    Problems,
    PurchaseVerdict,
    QueueView,
    RecipeCard,
    RunAccepted,
    RunList,
    RunShown,
    RunView,
    Silent,
    Stats,
    UsageList,
    Welcome,
    WorkflowHelp,
    WorkflowList,
)
from core.chat.credit_text import CreditText
from core.chat.help_text import HelpText
from core.chat.naming import fit, fit_middle
from core.chat.presentation import duration_parts, format_cost
from core.chat.run_text import RecipeBook, RunText
from core.locales import DEFAULT_LANGUAGE, messages_for, pick_language
from core.models import ChatRef, ProgressView, Run, RunStatus
from core.notices import Cmd, Hint, Notice, Opt, Problem, Usage

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
        "get_credits",
        "grant_usage",
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

    def argument(self, name: str, words: str) -> str:
        """How a usage names a command's argument: `words` (the catalog's, "run id") where
        arguments are free text, `name` itself where they are named options (Discord's
        `run:`, the same in every language)."""
        ...

    def assignment(self, name: str, value: str) -> str:
        """An input given with its value, as typed there (quoted as needed)."""
        ...


_FOLLOW_UPS = frozenset({ActionKind.UPSCALE, ActionKind.VARY})


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
        self.help = HelpText(self, syntax)
        self.credits = CreditText(self)

    @property
    def keys(self) -> frozenset[str]:
        """Every message key there is (the same in every language)."""
        return frozenset(self._messages)

    def use_book(self, book: RecipeBook) -> None:
        """Where workflows and commands are looked up, once the chat layer exists (for every
        language of this platform)."""
        self._family.book = book

    def follow_up_line(self, run: Run, kind: ActionKind) -> str | None:
        """⬆️ Upscale or 🔀 Vary typed out where there are no buttons: the workflow the catalog
        names for `run`'s, with the run as its image (`/upscale input_image=<run>`); None for
        other kinds, or when the book does not know the workflows."""
        book = self._family.book
        source = book.workflow_named(run.workflow) if book is not None else None
        if book is None or source is None or kind not in _FOLLOW_UPS:
            return None
        name = source.upscale_with if kind is ActionKind.UPSCALE else source.vary_with
        target = book.workflow_named(name) if name else None
        if target is None or not target.image_inputs:
            return None
        command = self._syntax.command(book.command_for(target.name))
        return f"{command} {self._syntax.assignment(target.image_inputs[0].name, run.id)}"

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
            words = self._messages.get(f"arg.{value.argument}", value.argument)
            argument = self._syntax.argument(value.argument, words)
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
        if isinstance(content, RunAccepted | Silent | PurchaseVerdict):
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
            return self.help.workflow_list(content)
        if isinstance(content, Welcome):
            listing = self.help.workflow_list(content.workflows)
            return self.text("welcome", workflows=listing, help=Usage("help", "command"))
        if isinstance(content, GeneralHelp):
            return self.help.general_help(content.admin)
        if isinstance(content, WorkflowHelp):
            return self.help.workflow_help(content)
        if isinstance(content, RunView):
            return self.run_status(content.run)
        if isinstance(content, RunShown):
            return self.result_summary(content.result.run, content.result.balance)
        if isinstance(content, RunList):
            return self.runs.run_list(content)
        if isinstance(content, RecipeCard):
            return self.runs.recipe_card(content.recipe)
        if isinstance(content, Stats):
            return self.help.stats(content)
        if isinstance(content, BalanceCard):
            return self.credits.balance(content)
        if isinstance(content, UsageList):
            return self.credits.usage(content)
        if isinstance(content, QueueView):
            return self.credits.queue(content)
        if isinstance(content, CreditOffer):
            return self.credits.offer(content)
        raise TypeError(f"no text rendering for {type(content).__name__}")

    def _problem_lines(self, content: Problems) -> list[str]:
        return [self.problem(problem, content.command) for problem in content.problems]

    def problem(self, problem: Problem, command: str) -> str:
        """One problem of a run request for `command`, in this platform's words."""
        name = problem.input or ""
        return self.notice(
            problem.notice,
            command=Cmd(command),
            option=Opt(name),
            usage=Usage(command, name),
            attach=Hint("attach_image"),
            attach_short=Hint("attach_image_short"),
            options_hint=Hint("options_hint"),
        )

    # -- runs (see core/chat/run_text.py) ------------------------------------------------------

    def status_word(self, status: RunStatus) -> str:
        return self.text(f"status.{status.value}")

    def progress(self, view: ProgressView) -> str:
        """The live status message of an unfinished run."""
        return self.runs.progress(view)

    def live(self, said: str) -> str:
        """A backend's own words about a run as they are, or the text of a `live.*` key."""
        return self.text(said) if said.startswith("live.") and said in self._messages else said

    def duration(self, seconds: float) -> str:
        """A duration in this language's units (see `duration_parts`)."""
        key, parts = duration_parts(seconds)
        return self.text(key, **parts)

    def cost(self, usd: float | None) -> str:
        """A cost as users read it; a run that costs nothing is free, one not known yet "n/a"
        in this language."""
        return self.text("cost.free") if usd == 0 else format_cost(usd, self.text("value.unknown"))

    def result_summary(self, run: Run, balance: int | None = None) -> str:
        """The lines under a result: what ran, with what, how long it took, what it cost (and
        the credits left), or why it ended."""
        return self.runs.result_summary(run, balance)

    def run_error(self, run: Run) -> str:
        """Why a run ended (see core/chat/run_text.py)."""
        return self.runs.reason(run)

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
            name = spec.options[0].name
            argument = self._syntax.argument(name, self.text(f"arg.{name}"))
            return f"{text}: {self._syntax.usage(spec.name, argument)}"
        return text


_STATUSES = frozenset(status.value for status in RunStatus)


def _shortened(value: object) -> object:
    return fit_middle(value, ECHO_MAX) if isinstance(value, str) else value
