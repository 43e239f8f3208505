"""Help and lists for the text platforms: the workflow list, the general help (the admin
commands for admins), one workflow's inputs, the stats."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from core.chat.content import Stats, WorkflowHelp, WorkflowList
from core.chat.presentation import format_bound
from core.models import UsageBreakdown, UsageRow, UsageTable, UsageTotals
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
        if stats.usage is not None:
            lines += ["", self.usage_period(stats.usage)]
            for title, rows in self.usage_sections(stats.usage):
                lines += [title, *(f"  {row}" for row in rows)]
        return "\n".join(lines)

    def usage_period(self, usage: UsageBreakdown) -> str:
        """What the breakdown covers, or that it is empty."""
        days = len(usage.days)
        if not usage.runs:
            return self.text("stats.period_empty", days=days)
        return self.text("stats.period", days=days, since=f"{usage.since:%Y-%m-%d}")

    def usage_sections(self, usage: UsageBreakdown) -> list[tuple[str, list[str]]]:
        """(title, one line per row) by workflow, by user and by day; none without runs."""
        if not usage.runs:
            return []
        days = [self._usage_line(f"{day.day:%Y-%m-%d}", day) for day in usage.days]
        return [
            (self.text("stats.by_workflow"), self._usage_lines(usage.workflows, _workflow)),
            (self.text("stats.by_user"), self._usage_lines(usage.users, _user)),
            (self.text("stats.by_day"), days),
        ]

    def _usage_lines(self, table: UsageTable, label: Callable[[UsageRow], str]) -> list[str]:
        lines = [self._usage_line(label(row), row) for row in table.rows]
        if table.others is not None:
            others = self.text("stats.others", count=table.others_count)
            lines.append(self._usage_line(others, table.others))
        return lines

    def _usage_line(self, name: str, usage: UsageTotals) -> str:
        if not usage.runs:
            return self.text("stats.no_runs", name=name)
        percent = usage.success_percent
        success = (
            self.text("stats.success_none")
            if percent is None
            else self.text("stats.success", percent=percent)
        )
        return self.text(
            "stats.usage",
            name=name,
            runs=usage.runs,
            success=success,
            gpu=self._words.duration(usage.gpu_seconds),
            cost=self._words.cost(usage.spend_usd),
        )


def _workflow(row: UsageRow) -> str:
    return row.key


def _user(row: UsageRow) -> str:
    return f"{row.name} ({row.key})" if row.name else row.key


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"
