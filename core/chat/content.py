"""What operations answer: structured content that each platform renders in its own words and
widgets, with the actions a user can take and whether the answer is for the asker only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.actions import Action
from core.chat.recipe import Recipe
from core.ledger import Balance, LedgerEntry
from core.models import BackendTotals, Run, RunResult, RunStatus, UsageBreakdown
from core.notices import Notice, Problem
from core.payments import CreditPack
from core.workflow import InputSpec


@dataclass(frozen=True, kw_only=True)
class Content:
    actions: tuple[Action, ...] = ()
    private: bool = False
    """Meant for the asker only: a user's own money and runs (balance, usage, queue, their run
    list). Discord answers the asker ephemerally anyway; Telegram, asked in a group, sends it
    to the user's private chat and tells the group so; a private chat or the console is the
    asker's alone already."""


@dataclass(frozen=True, kw_only=True)
class Message(Content):
    """One notice: an answer, a refusal, a confirmation."""

    notice: Notice


@dataclass(frozen=True)
class WorkflowEntry:
    command: str
    """The command as compiled for the platform the answer goes to."""
    title: str
    description: str
    needs_media: bool


@dataclass(frozen=True, kw_only=True)
class WorkflowList(Content):
    entries: tuple[WorkflowEntry, ...]


@dataclass(frozen=True, kw_only=True)
class Welcome(Content):
    workflows: WorkflowList


@dataclass(frozen=True, kw_only=True)
class GeneralHelp(Content):
    admin: bool = False


@dataclass(frozen=True, kw_only=True)
class WorkflowHelp(Content):
    entry: WorkflowEntry
    inputs: tuple[InputSpec, ...]
    main_input: str | None
    """The input free text goes to (text platforms)."""
    options: Mapping[str, str] = field(default_factory=dict)
    """Input name -> its option name on the platform, where they differ."""


@dataclass(frozen=True, kw_only=True)
class RunAccepted(Content):
    """A run is recorded and queued; its status message follows on its own."""

    run: Run


@dataclass(frozen=True, kw_only=True)
class RunView(Content):
    """How one run is doing (or how it ended)."""

    run: Run


@dataclass(frozen=True, kw_only=True)
class Problems(Content):
    """A run request refused: every problem at once, each naming its input."""

    command: str
    problems: tuple[Problem, ...]


@dataclass(frozen=True, kw_only=True)
class RunList(Content):
    """Recent runs, newest first, each with a way to show it again (its `show` action)."""

    runs: tuple[Run, ...]
    everyone: bool = False
    """Everybody's runs (for an admin), not only the asker's."""


@dataclass(frozen=True, kw_only=True)
class RecipeCard(Content):
    """Everything a run was made with, in full, ready to copy as a command."""

    recipe: Recipe


@dataclass(frozen=True, kw_only=True)
class RunShown(Content):
    """A finished run's result posted again, in the asking chat, with its buttons."""

    result: RunResult


@dataclass(frozen=True, kw_only=True)
class Stats(Content):
    counts: Mapping[RunStatus, int]
    total_cost: float
    workflows: int
    backends: Mapping[str, BackendTotals] = field(default_factory=dict)
    """Runs and cost per backend."""
    usage: UsageBreakdown | None = None
    """The last days' runs by workflow, user and day."""


@dataclass(frozen=True, kw_only=True)
class Silent(Content):
    """No answer at all (a flood past its one warning, a payment reported twice)."""


@dataclass(frozen=True, kw_only=True)
class BalanceCard(Content):
    balance: Balance
    entries: tuple[LedgerEntry, ...] = ()
    """The latest changes, newest first."""
    charging: bool = True
    """False when credits are off: runs cost nothing."""


@dataclass(frozen=True, kw_only=True)
class UsageList(Content):
    """The asker's latest runs, newest first, with what each cost them (hundredths)."""

    runs: tuple[tuple[Run, int], ...]
    charging: bool = True


@dataclass(frozen=True)
class LinePlace:
    run: Run
    place: int
    starts_in_s: float | None


@dataclass(frozen=True, kw_only=True)
class QueueView(Content):
    """The asker's runs: waiting in line (with their places) and on a backend now."""

    waiting: tuple[LinePlace, ...]
    running: tuple[Run, ...]
    limits: tuple[int, int]
    """(MAX_RUNNING_PER_USER, MAX_QUEUED_PER_USER)."""


@dataclass(frozen=True, kw_only=True)
class CreditOffer(Content):
    """Credit packs to buy; platforms that take payments turn each into an invoice."""

    packs: tuple[CreditPack, ...]
    balance: int


@dataclass(frozen=True, kw_only=True)
class PurchaseVerdict(Content):
    """Whether a payment about to be made may go ahead (and why not); for the platform only."""

    ok: bool
    reason: Notice | None = None
