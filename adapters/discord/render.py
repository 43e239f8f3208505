"""Content -> Discord messages: text for notices, embeds for lists, help, recipes and stats, in
the language of whoever is answered (`for_chat`).

Sentences come from the neutral message catalogs (core/locales) through the core's text
renderer with Discord's syntax: a command reads `/workflows`, an option `seed:`, a usage
`/status run:`. Problems name the option as the command shows it; a recipe's command is written
with the command's own options, the way Discord's client reads a pasted
`/txt2img prompt:a fox seed:7`. Limits:
https://discord.com/developers/docs/resources/message#embed-object-embed-limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.discord.library import discord
from adapters.discord.limits import (
    CONTENT_MAX,
    EMBED_DESCRIPTION_MAX,
    EMBED_FIELD_VALUE_MAX,
    EMBED_FIELDS_MAX,
    EMBED_TITLE_MAX,
    fit,
)
from adapters.discord.slash_commands import ADMIN_SUBCOMMANDS, admin_description
from adapters.discord.wording import SYNTAX
from core.actions import Action
from core.chat.book import CommandBook
from core.chat.commands import ADMIN_GROUP
from core.chat.content import (
    BalanceCard,
    Content,
    CreditOffer,
    GeneralHelp,
    Message,
    Problems,
    QueueView,
    RecipeCard,
    RunAccepted,
    RunList,
    RunShown,
    RunView,
    Stats,
    UsageList,
    Welcome,
    WorkflowHelp,
    WorkflowList,
)
from core.chat.presentation import format_bound, format_cost
from core.chat.recipe import Recipe
from core.chat.text_render import TextRenderer
from core.locales import DEFAULT_LANGUAGE
from core.models import ChatRef
from core.notices import Cmd, Hint, Notice, Opt, Problem, Usage
from core.workflow import InputSpec, InputType

COLOR = 0x5865F2
FENCE = "```"


@dataclass(frozen=True)
class DiscordReply:
    content: str = ""
    embeds: tuple[discord.Embed, ...] = ()
    actions: tuple[Action, ...] = ()


class DiscordRenderer:
    """Renders in one language; `for_chat` gives the renderer for whoever is answered."""

    def __init__(
        self,
        book: CommandBook,
        language: str = DEFAULT_LANGUAGE,
        *,
        _words: TextRenderer | None = None,
        _family: dict[str, DiscordRenderer] | None = None,
    ) -> None:
        self.words = _words or TextRenderer(SYNTAX, book, language)
        self._book = book
        self._family = _family if _family is not None else {}
        self._family.setdefault(self.words.language, self)

    # -- languages -----------------------------------------------------------------------------

    def for_chat(self, chat: ChatRef) -> DiscordRenderer:
        return self.for_language(chat.language)

    def for_language(self, tag: str | None) -> DiscordRenderer:
        """The renderer for `tag` (the default language when there is no catalog for it)."""
        words = self.words.for_language(tag)
        found = self._family.get(words.language)
        if found is None:
            found = DiscordRenderer(self._book, _words=words, _family=self._family)
        return found

    def phrase(self, key: str) -> str:
        """One of Discord's own phrases (adapters/discord/wording.py) in this language."""
        return SYNTAX.phrase(key, self.words.language)

    # -- content -------------------------------------------------------------------------------

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
        if isinstance(content, RunList):
            text = self.words.runs.run_list(content)
            return DiscordReply(fit(text, CONTENT_MAX), actions=content.actions)
        if isinstance(content, RecipeCard):
            return DiscordReply(embeds=(self._recipe(content.recipe),), actions=content.actions)
        if isinstance(content, RunShown):  # the handlers post the result itself again
            text = self.words.result_summary(content.result.run)
            return DiscordReply(fit(text, CONTENT_MAX), actions=content.actions)
        if isinstance(content, Stats):
            return DiscordReply(embeds=(self._stats(content),))
        if isinstance(content, BalanceCard | UsageList | QueueView | CreditOffer):
            shown = self.words.render(content)
            return DiscordReply(fit(shown.text if shown else "", CONTENT_MAX))
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
        text, word = self.words.text, self.words.word
        rows = [
            (word(Cmd("workflows")), text("help.workflows")),
            (word(Usage("help", "command")), text("help.help")),
            (word(Usage("status", "run")), text("help.status")),
            (word(Usage("cancel", "run")), text("help.cancel")),
            (word(Cmd("runs")), text("help.runs")),
            (word(Usage("show", "run")), text("help.show")),
            (word(Usage("recipe", "run")), text("help.recipe")),
        ]
        if admin:
            rows += [
                (word(Cmd(f"{ADMIN_GROUP} {name}")), text(admin_description(name)))
                for name in ADMIN_SUBCOMMANDS
            ]
        lines = [f"{usage} — {about}" for usage, about in rows]
        lines += ["", text("help.run", usage=Hint("run_usage"))]
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
        if spec.is_seed and not spec.required:
            parts.append(text("input.random_seed"))
        elif isinstance(spec.default, bool):
            parts.append(text("input.default", value=text("yes" if spec.default else "no")))
        elif spec.default not in (None, "") and not spec.required:
            parts.append(text("input.default", value=spec.default))
        line = ", ".join(parts)
        described = f"{line}. {spec.description}" if spec.description else line
        return fit(described, EMBED_FIELD_VALUE_MAX)

    # -- recipes -------------------------------------------------------------------------------

    def _recipe(self, recipe: Recipe) -> discord.Embed:
        """The recipe in full, its command in a block to copy."""
        line = self.command_line(recipe).replace(FENCE, "'''")
        card = self.words.runs.recipe_card(recipe, f"{FENCE}\n{line}\n{FENCE}")
        title, _, body = card.partition("\n")
        return discord.Embed(
            title=fit(title, EMBED_TITLE_MAX),
            description=fit(body, EMBED_DESCRIPTION_MAX),
            color=COLOR,
        )

    def command_line(self, recipe: Recipe) -> str:
        """`/txt2img prompt:a red fox steps:30 seed:7`: the prompt and every input given, seed
        included, by the names of the command's options. Images cannot be given in text (they
        are attachments): the recipe lists them above."""
        spec = self._book.spec(recipe.command)
        names = {option.input: option.name for option in spec.options} if spec else {}
        images = {name for name, _ in recipe.images}
        given: list[tuple[str, Any]] = []
        if recipe.prompt and recipe.prompt_input:
            given.append((recipe.prompt_input, " ".join(recipe.prompt.split())))
        given += [(name, value) for name, value in recipe.assignments() if name not in images]
        parts = [f"/{recipe.command}"]
        parts += [SYNTAX.assignment(names.get(name, name), _typed(value)) for name, value in given]
        return " ".join(parts)

    # -- stats ---------------------------------------------------------------------------------

    def _stats(self, stats: Stats) -> discord.Embed:
        text = self.words.text
        lines = [text("stats.runs", count=sum(stats.counts.values()))]
        lines += [
            text("stats.status", status=self.words.status_word(status), count=count)
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


def _typed(value: object) -> str:
    """An option's value as typed in Discord's client."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
