"""Content -> Discord messages: text for notices, embeds for lists, help and stats.

Sentences come from the neutral message catalog (core/locales) through the core's text
renderer with Discord's syntax: a command reads `/workflows`, an option "the `seed` option", a
usage `/status run:`. Problems name the option as the command shows it. Limits:
https://discord.com/developers/docs/resources/message#embed-object-embed-limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from adapters.discord.library import discord
from adapters.discord.limits import (
    CONTENT_MAX,
    EMBED_DESCRIPTION_MAX,
    EMBED_FIELD_VALUE_MAX,
    EMBED_FIELDS_MAX,
    fit,
)
from adapters.discord.slash_commands import ADMIN_SUBCOMMANDS, admin_description
from adapters.discord.wording import SYNTAX
from core.actions import Action
from core.chat.book import CommandBook
from core.chat.commands import ADMIN_GROUP
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
from core.chat.presentation import format_bound, format_cost
from core.chat.text_render import TextRenderer
from core.notices import Cmd, Hint, Notice, Opt, Problem, Usage
from core.workflow import InputSpec, InputType

COLOR = 0x5865F2


@dataclass(frozen=True)
class DiscordReply:
    content: str = ""
    embeds: tuple[discord.Embed, ...] = ()
    actions: tuple[Action, ...] = ()


class DiscordRenderer:
    def __init__(self, book: CommandBook) -> None:
        self.words = TextRenderer(SYNTAX)
        self._book = book

    def render(self, content: Content) -> DiscordReply | None:
        """None for a run just accepted: its status takes over the response."""
        if isinstance(content, RunAccepted):
            return None
        if isinstance(content, Message):
            return DiscordReply(fit(self.words.notice(content.notice), CONTENT_MAX))
        if isinstance(content, Problems):
            lines = [f"• {line}" for line in self.problem_lines(content)]
            return DiscordReply(fit("\n".join(lines), CONTENT_MAX))
        if isinstance(content, WorkflowList):
            return DiscordReply(embeds=(self._workflow_list(content),))
        if isinstance(content, Welcome):
            return DiscordReply(embeds=(self._workflow_list(content.workflows),))
        if isinstance(content, GeneralHelp):
            return DiscordReply(embeds=(self._general_help(content.admin),))
        if isinstance(content, WorkflowHelp):
            return DiscordReply(embeds=(self._workflow_help(content),))
        if isinstance(content, RunView):
            return DiscordReply(self.words.run_status(content.run), actions=content.actions)
        if isinstance(content, RunList | RecipeCard | RunShown):
            reply = self.words.render(content)
            text = reply.text if reply else ""
            return DiscordReply(fit(text, CONTENT_MAX), actions=content.actions)
        if isinstance(content, Stats):
            return DiscordReply(embeds=(self._stats(content),))
        raise TypeError(f"no Discord rendering for {type(content).__name__}")

    # -- problems ------------------------------------------------------------------------------

    def problem_lines(self, content: Problems) -> list[str]:
        spec = self._book.spec(content.command)
        names = {o.input: o.name for o in spec.options} if spec else {}
        return [self._problem(p, content.command, names) for p in content.problems]

    def _problem(self, problem: Problem, command: str, names: Mapping[str, str]) -> str:
        option = names.get(problem.input or "", problem.input or "")
        params = dict(problem.params)
        if problem.input is not None:
            params["input"] = option
        if problem.key == "input.unknown":
            params["known"] = ", ".join(names.values()) or "-"
        return self.words.notice(
            Notice.of(problem.key, **params),
            command=Cmd(command),
            option=Opt(option),
            usage=Usage(command, option),
            attach=Hint("attach_image"),
            attach_short=Hint("attach_image_short"),
            options_hint=Hint("options_hint"),
        )

    # -- lists and help ------------------------------------------------------------------------

    def _workflow_list(self, listing: WorkflowList) -> discord.Embed:
        if not listing.entries:
            return discord.Embed(description=self.words.text("list.empty"), color=COLOR)
        title = self.words.text("list.title")
        lines = []
        for entry in listing.entries:
            about = entry.description or entry.title
            media = f" ({self.words.hint('list_needs_image')})" if entry.needs_media else ""
            lines.append(f"{SYNTAX.command(entry.command)} — {about}{media}")
        description = fit("\n".join(lines), EMBED_DESCRIPTION_MAX)
        return discord.Embed(title=title, description=description, color=COLOR)

    def _general_help(self, admin: bool) -> discord.Embed:
        text = self.words.text
        rows = [
            (SYNTAX.command("workflows"), text("help.workflows")),
            (SYNTAX.usage("help", "command"), text("help.help")),
            (SYNTAX.usage("status", "run"), text("help.status")),
            (SYNTAX.usage("cancel", "run"), text("help.cancel")),
        ]
        if admin:
            rows += [
                (SYNTAX.command(f"{ADMIN_GROUP} {name}"), text(admin_description(name)))
                for name in ADMIN_SUBCOMMANDS
            ]
        lines = [f"{usage} — {about}" for usage, about in rows]
        lines += ["", text("help.run", usage=self.words.hint("run_usage"))]
        return discord.Embed(title=text("help.title"), description="\n".join(lines), color=COLOR)

    def _workflow_help(self, help: WorkflowHelp) -> discord.Embed:
        entry = help.entry
        embed = discord.Embed(
            title=f"/{entry.command}",
            description=fit(entry.description or entry.title, EMBED_DESCRIPTION_MAX),
            color=COLOR,
        )
        for spec in help.inputs[:EMBED_FIELDS_MAX]:
            name = help.options.get(spec.name, spec.name)
            required = spec.required or spec.name == help.main_input
            title = f"{name} ({self.words.text('input.required')})" if required else name
            embed.add_field(name=title, value=self._input_value(spec), inline=False)
        return embed

    def _input_value(self, spec: InputSpec) -> str:
        text = self.words.text
        if spec.type is InputType.CHOICE:
            kind = text("kind.choice", choices=", ".join(spec.choices or ()))
        else:
            kind = text(f"kind.{spec.type.value}")
        parts = [kind]
        if spec.min is not None or spec.max is not None:
            parts.append(f"{format_bound(spec.min)}–{format_bound(spec.max)}")
        if spec.max_length:
            parts.append(text("input.max_length", limit=spec.max_length))
        if isinstance(spec.default, bool):
            parts.append(text("input.default", value=text("yes" if spec.default else "no")))
        elif spec.default not in (None, "") and not spec.required:
            parts.append(text("input.default", value=spec.default))
        line = ", ".join(parts)
        described = f"{line}. {spec.description}" if spec.description else line
        return fit(described, EMBED_FIELD_VALUE_MAX)

    def _stats(self, stats: Stats) -> discord.Embed:
        text = self.words.text
        lines = [text("stats.runs", count=sum(stats.counts.values()))]
        lines += [
            text("stats.status", status=status.value, count=count)
            for status, count in sorted(stats.counts.items())
            if count
        ]
        lines.append(text("stats.cost", cost=format_cost(stats.total_cost)))
        sections: list[tuple[str, list[str]]] = []
        if stats.usage is not None:
            lines += ["", self.words.help.usage_period(stats.usage)]
            sections = self.words.help.usage_sections(stats.usage)
        title = text("stats.workflows", count=stats.workflows)
        description = fit("\n".join(lines), EMBED_DESCRIPTION_MAX)
        embed = discord.Embed(title=title, description=description, color=COLOR)
        for name, rows in sections:
            value = fit("\n".join(rows), EMBED_FIELD_VALUE_MAX)
            embed.add_field(name=name, value=value, inline=False)
        return embed
