"""How a run reads on the text platforms: its live status, the caption under its result (what it
was made with, its seed, time and price, who asked in groups, or why it ended), its recipe in
full with the command that makes it again, and the list of someone's runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from core.chat.content import Content, RecipeCard, RunList, RunShown, RunView
from core.chat.naming import fit
from core.chat.presentation import progress_bar
from core.chat.reasons import engine_reason
from core.chat.recipe import Recipe, recipe_of
from core.credits import charge_for, format_credits
from core.models import ProgressView, Run, RunStatus
from core.notices import Usage
from core.workflow import Workflow

if TYPE_CHECKING:
    from core.chat.text_render import TextRenderer, TextSyntax

_SHOWS_PROGRESS = frozenset({RunStatus.STARTED, RunStatus.RUNNING, RunStatus.UPLOADING})
_WAITING = frozenset({RunStatus.NOT_STARTED, RunStatus.QUEUED})
_END_REASONS = {
    RunStatus.FAILED: "run.failed",
    RunStatus.TIMEOUT: "run.timed_out",
    RunStatus.CANCELLED: "run.cancelled",
}
PROMPT_SHORT = 90
"""How much of a prompt a caption shows (the recipe shows all of it)."""
VALUE_SHORT = 24
OPTIONS_SHOWN = 6
REASON_MAX = 400
"""A backend's error can be a traceback: a caption shows its start."""


class RecipeBook(Protocol):
    """Where a renderer finds a run's workflow and the command that runs it on its platform
    (`core.chat.book.CommandBook`)."""

    def workflow_named(self, name: str) -> Workflow | None: ...

    def command_for(self, workflow: str) -> str: ...


class BookHolder(Protocol):
    """Holds the platform's `RecipeBook` once the chat layer exists."""

    @property
    def book(self) -> RecipeBook | None: ...


class RunText:
    def __init__(self, words: TextRenderer, syntax: TextSyntax, holder: BookHolder) -> None:
        self._words = words
        self._syntax = syntax
        self._holder = holder

    @property
    def _book(self) -> RecipeBook | None:
        return self._holder.book

    @property
    def _text(self) -> Callable[..., str]:
        return self._words.text

    def recipe(self, run: Run) -> Recipe:
        workflow = self._book.workflow_named(run.workflow) if self._book else None
        command = self._book.command_for(run.workflow) if self._book else run.workflow
        return recipe_of(run, workflow, command)

    # -- status --------------------------------------------------------------------------------

    def head(self, run: Run, status: RunStatus) -> str:
        return self._text(
            "run.head", status=self._words.status_word(status), workflow=run.workflow, run=run.id
        )

    def progress(self, view: ProgressView) -> str:
        lines = [self.head(view.run, view.status)]
        if view.status in _SHOWS_PROGRESS:
            lines.append(f"{progress_bar(view.progress)} {round(view.progress * 100)}%")
        if view.queue_position is not None and view.status in _WAITING:
            lines.append(self._text("run.queue_position", position=view.queue_position + 1))
        if view.line_position is not None and view.status is RunStatus.PENDING:
            lines.append(self.in_line(view.line_position, view.starts_in_s))
        if view.live_status:
            lines.append(self._words.live(view.live_status))
        return "\n".join(lines)

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

    def in_line(self, place: int, starts_in_s: float | None) -> str:
        """A waiting run's place in the fair queue and about when it starts."""
        if starts_in_s is None:
            return self._text("run.in_line", place=place)
        return self._text("run.in_line_eta", place=place, wait=self._words.duration(starts_in_s))

    def result_summary(self, run: Run, balance: int | None = None) -> str:
        """`balance`: the credits the user has left (for a run paid in credits)."""
        recipe = self.recipe(run)
        lines = [self.head(run, run.status)]
        if run.status is not RunStatus.SUCCESS:
            lines.append(self.reason(run))
        about = self._about(recipe)
        if about:
            lines.append(about)
        facts = []
        if recipe.seed is not None:
            facts.append(self._text("run.seed", seed=recipe.seed))
        if run.status is RunStatus.SUCCESS:
            facts.append(self._text("run.time", duration=self._duration(run)))
        if run.credits is not None:
            facts.append(self.price(run, balance))
        elif run.status is RunStatus.SUCCESS or run.cost_usd:
            facts.append(self._text("run.cost", cost=self._cost(run)))
        if recipe.requester:
            facts.append(self._text("run.by", user=recipe.requester))
        if facts:
            lines.append(" · ".join(facts))
        return "\n".join(lines)

    def reason(self, run: Run) -> str:
        """Why a run ended: the engine's reasons (message keys, or the sentences it wrote
        before it used keys) in the reader's language, a backend's in its own words."""
        if run.error:
            if run.error in self._words.keys:  # the engine records its reasons as message keys
                return self._text(run.error)
            notice = engine_reason(run.error)
            if notice is not None:
                return self._words.notice(notice)
            return self._text("run.backend_said", reason=fit(run.error, REASON_MAX))
        key = _END_REASONS.get(run.status)
        return self._text(key) if key else ""

    def _about(self, recipe: Recipe) -> str:
        parts = []
        if recipe.prompt:
            parts.append(f"«{fit(recipe.prompt, PROMPT_SHORT)}»")
        for name, value in recipe.options[:OPTIONS_SHOWN]:
            parts.append(f"{name} {fit(self._value(value), VALUE_SHORT)}")
        if len(recipe.options) > OPTIONS_SHOWN:
            parts.append("…")
        return " · ".join(parts)

    # -- recipes and lists ---------------------------------------------------------------------

    def recipe_card(self, recipe: Recipe, command_line: str | None = None) -> str:
        """The recipe in full, ending with the command that makes the run again
        (`command_line`, where the platform writes it its own way)."""
        run = recipe.run
        command = self._syntax.command(recipe.command)
        title = command if recipe.title == recipe.command else f"{recipe.title} ({command})"
        lines = [
            self._text("recipe.title", run=run.id),
            self._text("recipe.workflow", workflow=title),
        ]
        if recipe.prompt:
            lines.append(self._text("recipe.prompt", prompt=recipe.prompt))
        if recipe.options:
            given = " · ".join(f"{name} {self._value(value)}" for name, value in recipe.options)
            lines.append(self._text("recipe.inputs", inputs=given))
        else:
            lines.append(self._text("recipe.defaults"))
        if recipe.images:
            lines.append(
                self._text("recipe.images", images=", ".join(n for n, _ in recipe.images))
            )
        if recipe.seed is not None:
            lines.append(self._text("run.seed", seed=recipe.seed))
        lines.append(
            self._text(
                "recipe.made",
                status=self._words.status_word(run.status),
                when=_when(run),
                duration=self._duration(run),
                cost=self._cost(run),
            )
        )
        if recipe.requester:
            lines.append(self._text("run.by", user=recipe.requester))
        lines += ["", self._text("recipe.command"), command_line or self.command_line(recipe)]
        return "\n".join(lines)

    def command_line(self, recipe: Recipe) -> str:
        """The command that makes the run again, seed included, as typed on this platform."""
        parts = [self._syntax.command(recipe.command)]
        assignments: list[tuple[str, Any]] = list(recipe.assignments())
        prompt = recipe.prompt
        if prompt and recipe.prompt_input:
            if _reads_as_options(prompt):
                assignments.insert(0, (recipe.prompt_input, prompt))
            else:
                parts.append(" ".join(prompt.split()))
        parts += [self._syntax.assignment(name, _typed(value)) for name, value in assignments]
        return " ".join(parts)

    def run_list(self, listing: RunList) -> str:
        if not listing.runs:
            if listing.everyone:
                return self._text("no_runs")
            return self._text("no_runs_of_yours", workflows=self._syntax.command("workflows"))
        lines = [self._text("runs.title_all" if listing.everyone else "runs.title")]
        for run in listing.runs:
            line = self._text(
                "runs.line",
                run=run.id,
                status=self._words.status_word(run.status),
                workflow=run.workflow,
                when=_when(run),
                duration=self._duration(run),
                cost=self._cost(run),
            )
            lines.append(f"{line} · {run.chat.user_key}" if listing.everyone else line)
        lines += ["", self._text("runs.show", usage=Usage("show", "run"))]
        return "\n".join(lines)

    def copyable(self, content: Content) -> tuple[str, ...]:
        if isinstance(content, RunList):
            return tuple(run.id for run in content.runs)
        if isinstance(content, RecipeCard):
            return (content.recipe.run.id, self.command_line(content.recipe))
        if isinstance(content, RunView):
            return (content.run.id,)
        if isinstance(content, RunShown):
            return (content.result.run.id,)
        return ()

    # -- values --------------------------------------------------------------------------------

    def _value(self, value: object) -> str:
        if isinstance(value, bool):
            return self._text("yes" if value else "no")
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    def price(self, run: Run, balance: int | None = None) -> str:
        """What the run cost its user in credits, and (when known) what they have left."""
        charge = charge_for(run)
        if not charge and run.cost_usd == 0:  # a free backend (self-hosted)
            return self._text("run.cost", cost=self._words.cost(0.0))
        price = format_credits(charge)
        if balance is None:
            return self._text("run.price", price=price)
        return self._text("run.price_left", price=price, balance=format_credits(balance))

    def _duration(self, run: Run) -> str:
        seconds = run.duration_s
        return self._text("value.unknown") if seconds is None else self._words.duration(seconds)

    def _cost(self, run: Run) -> str:
        cost = run.cost_usd
        return self._text("value.unknown") if cost is None else self._words.cost(cost)


def _typed(value: object) -> str:
    """A value as the text front door reads it back, in any language."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _when(run: Run) -> str:
    return f"{run.created_at:%Y-%m-%d %H:%M} UTC"


def _reads_as_options(prompt: str) -> bool:
    """A prompt that would parse back as options when typed as free text."""
    return "=" in prompt or "--" in prompt
