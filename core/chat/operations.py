"""The typed front door of the chat layer: one operation per thing a user can ask for.

Platforms translate their input (a text line, a Discord interaction, a button press, an HTTP
body) into exactly one of these and hand it to `ChatService.execute`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from core.notices import Problem
from core.requests import Attachment, InputValue


@dataclass(frozen=True)
class Start:
    pass


@dataclass(frozen=True)
class Help:
    command: str | None = None
    """A command as the platform shows it; None for the general help."""


@dataclass(frozen=True)
class ListWorkflows:
    pass


@dataclass(frozen=True)
class ShowStatus:
    run_id: str


@dataclass(frozen=True)
class CancelRun:
    run_id: str


@dataclass(frozen=True)
class Rerun:
    run_id: str
    new_seed: bool = False
    """A reroll: the same inputs with a new seed; otherwise the exact same run."""
    origin: str | None = None
    """See `RunWorkflow.origin`."""


class FollowUpKind(StrEnum):
    UPSCALE = "upscale"
    VARY = "vary"


@dataclass(frozen=True)
class FollowUp:
    """Feed a run's image into the workflow the catalog names for it (`upscale_with`,
    `vary_with`)."""

    run_id: str
    kind: FollowUpKind
    origin: str | None = None
    """See `RunWorkflow.origin`."""


@dataclass(frozen=True)
class ShowRecipe:
    """What a run was made with, in full, as a command to copy."""

    run_id: str


@dataclass(frozen=True)
class ShowRun:
    """Post a run's result again, with its buttons."""

    run_id: str


@dataclass(frozen=True)
class NotACommand:
    """Something that is no command, in a private chat: plain text, a bare `/`, or an image
    without a caption. The answer says how to use the bot."""

    image: bool = False


@dataclass(frozen=True)
class RunWorkflow:
    workflow: str
    inputs: Mapping[str, InputValue] = field(default_factory=dict)
    media: Mapping[str, Attachment] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    """Found while translating the platform's input (a duplicate key, stray free text)."""
    origin: str | None = None
    """The platform's id of what asked for it (its message, its button press): the same
    request delivered twice (a webhook retried after a crash) makes one run."""


@dataclass(frozen=True)
class UnknownCommand:
    command: str


@dataclass(frozen=True)
class MissingArgument:
    """A built-in command given without the argument it needs (`/status` alone)."""

    command: str
    argument: str
    """What is missing, as a message key suffix: `run`, `user` (`arg.run` -> "run id")."""


@dataclass(frozen=True)
class RefreshCatalog:
    pass


@dataclass(frozen=True)
class ShowStats:
    pass


@dataclass(frozen=True)
class ListRuns:
    """The asker's last runs; `everyone`: everybody's (admins only)."""

    limit: int = 10
    everyone: bool = False


@dataclass(frozen=True)
class Redeliver:
    """Post a finished run's result again: what was not confirmed sent, or all of it when the
    delivery had completed."""

    run_id: str


@dataclass(frozen=True)
class ShowBalance:
    """The asker's credits: available, held for their runs, the latest changes."""


@dataclass(frozen=True)
class ShowUsage:
    """The asker's latest runs with what each cost them."""

    limit: int = 10


@dataclass(frozen=True)
class ShowQueue:
    """The asker's runs waiting in line (place, estimated start) and running."""


@dataclass(frozen=True)
class BuyCredits:
    """The credit packs on sale, on platforms that take payments."""


@dataclass(frozen=True)
class CheckPurchase:
    """A payment about to be made (Telegram's pre-checkout query): may it go ahead?"""

    payload: str
    amount: int
    currency: str


@dataclass(frozen=True)
class CompletePurchase:
    """A payment made: credit its pack, once per payment id, however often it is reported."""

    payment_id: str
    """`<platform>:<the platform's charge id>`."""
    payload: str
    amount: int
    currency: str


@dataclass(frozen=True)
class Grant:
    user: str
    """As `Ban.user`."""
    credits: str
    """As typed: "50", "12.5"."""
    origin: str | None = None
    """The admin's message: a grant delivered twice is applied once."""


@dataclass(frozen=True)
class RefundPayment:
    payment: str
    """The platform's charge id (as the purchase's receipt shows it)."""


@dataclass(frozen=True)
class Ban:
    user: str
    """`platform:user_id`, a bare user id on the caller's platform, or `@username` of a user
    the bot has seen."""


@dataclass(frozen=True)
class Unban:
    user: str


UserOperation = (
    Start
    | Help
    | ListWorkflows
    | ShowStatus
    | CancelRun
    | Rerun
    | FollowUp
    | ShowRecipe
    | ShowRun
    | ListRuns
    | RunWorkflow
    | UnknownCommand
    | MissingArgument
    | NotACommand
    | ShowBalance
    | ShowUsage
    | ShowQueue
    | BuyCredits
    | CheckPurchase
    | CompletePurchase
)
AdminOperation = RefreshCatalog | ShowStats | Redeliver | Ban | Unban | Grant | RefundPayment
Operation = UserOperation | AdminOperation
ADMIN_OPERATIONS = (RefreshCatalog, ShowStats, Redeliver, Ban, Unban, Grant, RefundPayment)
PLACE_MODERATION = (RefreshCatalog, Ban, Unban)
"""What a place's own administrators (a Discord member with Manage Server) may do besides
users: moderation only. Money (grants, payment refunds), everybody's runs and stats, and
posting any run's result again stay with the bot's admins (ADMIN_IDS)."""


def needs_admin(operation: Operation) -> bool:
    """Admin commands, and everybody's runs."""
    if isinstance(operation, ListRuns):
        return operation.everyone
    return isinstance(operation, ADMIN_OPERATIONS)


def place_moderation(operation: Operation) -> bool:
    """An admin command a place's administrator may use too (see PLACE_MODERATION)."""
    return isinstance(operation, PLACE_MODERATION)


def from_origin(operation: Operation, origin: str) -> Operation:
    """The operation remembering what asked for it (a message, a button press, an
    interaction), when it starts a run: asked twice, it makes one run."""
    if isinstance(operation, RunWorkflow | Rerun | FollowUp | Grant):
        return replace(operation, origin=origin)
    return operation
