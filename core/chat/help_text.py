"""Help and lists for the text platforms: the workflow list, the general help (the admin
commands for admins), one workflow's inputs, the stats."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.chat.content import Stats, WorkflowHelp, WorkflowList
from core.chat.presentation import format_bound
from core.notices import Cmd, Hint, Usage
from core.workflow import InputSpec, InputType

if TYPE_CHECKING:
    from core.chat.text_render import TextRenderer, TextSyntax


class HelpText:
    def __init__(self, words: TextRenderer, syntax: TextSyntax) -> None:
        self._words = words
        self._syntax = syntax

    def text(self, key: str, **params: object) -> str:
        return self._words.text(key, **params)

    def word(self, value: object) -> str:
        return self._words.word(value)

    def hint(self, key: str, **params: object) -> str:
        return self._words.hint(key, **params)

    def workflow_list(self, listing: WorkflowList) -> str:
        if not listing.entries:
            return self.text("list.empty")
        lines = [self.text("list.title")]
        for entry in listing.entries:
            about = entry.description or entry.title
            media = f" ({self.hint('list_needs_image')})" if entry.needs_media else ""
            lines.append(f"{self._syntax.command(entry.command)} — {about}{media}")
        return "\n".join(lines)

    def general_help(self, admin: bool) -> str:
        rows: list[tuple[object, str]] = [
            (Cmd("workflows"), "help.workflows"),
            (Usage("help", "command"), "help.help"),
            (Usage("status", "run"), "help.status"),
            (Usage("cancel", "run"), "help.cancel"),
            (Cmd("runs"), "help.runs"),
            (Usage("show", "run"), "help.show"),
            (Usage("recipe", "run"), "help.recipe"),
            (Usage("reroll", "run"), "help.reroll"),
            (Usage("rerun", "run"), "help.rerun"),
            (Cmd("balance"), "help.balance"),
            (Cmd("usage"), "help.usage"),
            (Cmd("queue"), "help.queue"),
            (Cmd("buy"), "help.buy"),
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
                (Usage("redeliver", "run"), "help.redeliver"),
                (Usage("ban", "user"), "help.ban"),
                (Usage("unban", "user"), "help.unban"),
                (Hint("grant_usage"), "help.grant"),
                (Usage("refund", "payment"), "help.refund"),
            ]
            lines += ["", self.text("help.admin_title")]
            lines += [f"{self.word(command)} — {self.text(key)}" for command, key in admin_rows]
        return "\n".join(lines)

    def workflow_help(self, help: WorkflowHelp) -> str:
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

    def stats(self, stats: Stats) -> str:
        lines = [
            self.text("stats.workflows", count=stats.workflows),
            self.text("stats.runs", count=sum(stats.counts.values())),
        ]
        lines += [
            self.text("stats.status", status=self._words.status_word(status), count=count)
            for status, count in sorted(stats.counts.items())
            if count
        ]
        cost = self._words.cost
        lines.append(self.text("stats.cost", cost=cost(stats.total_cost)))
        lines += [
            self.text("stats.backend", backend=name, count=totals.runs, cost=cost(totals.cost_usd))
            for name, totals in sorted(stats.backends.items())
        ]
        return "\n".join(lines)


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"
