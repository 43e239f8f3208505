"""The typed front door of the chat layer: one operation per thing a user can ask for.

Platforms translate their input (a text line, a Discord interaction, a button press, an HTTP
body) into exactly one of these and hand it to `ChatService.execute`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

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
    origin: str | None = None
    """See `RunWorkflow.origin`."""


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
    limit: int = 10


@dataclass(frozen=True)
class Redeliver:
    """Post a finished run's result again: what was not confirmed sent, or all of it when the
    delivery had completed."""

    run_id: str


@dataclass(frozen=True)
class Ban:
    user: str
    """`platform:user_id`, or a bare user id on the caller's platform."""


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
    | RunWorkflow
    | UnknownCommand
    | MissingArgument
)
AdminOperation = RefreshCatalog | ShowStats | ListRuns | Redeliver | Ban | Unban
Operation = UserOperation | AdminOperation
ADMIN_OPERATIONS = (RefreshCatalog, ShowStats, ListRuns, Redeliver, Ban, Unban)


def from_origin(operation: Operation, origin: str) -> Operation:
    """The operation remembering what asked for it (a message, a button press, an
    interaction), when it starts a run: asked twice, it makes one run."""
    if isinstance(operation, RunWorkflow | Rerun):
        return replace(operation, origin=origin)
    return operation
