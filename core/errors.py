"""Errors users can fix (shown in chat as a notice) versus everything else (logged with the run
id; the user gets an apology with a reference)."""

from __future__ import annotations

from collections.abc import Sequence

from core.notices import Notice, Problem


class UserFacingError(Exception):
    """A problem the user can fix; each platform renders its notice in its own words."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.notice = Notice.of(key, **params)


class InvalidInput(UserFacingError):
    """One or more inputs of a run request are wrong: every problem at once, each naming its
    input. `workflow` is the workflow's name (platforms show their own command for it)."""

    def __init__(self, workflow: str, problems: Sequence[Problem]) -> None:
        super().__init__("invalid_input", workflow=workflow)
        self.workflow = workflow
        self.problems = tuple(problems)


class UnknownWorkflow(UserFacingError):
    pass


class UnknownRun(UserFacingError):
    pass


class NotAllowed(UserFacingError):
    pass


class FileRejected(UserFacingError):
    """A user's file is too large or not an accepted type."""


class MediaUnavailable(UserFacingError):
    """A user's file could not be fetched from the platform it was sent on."""

    def __init__(self) -> None:
        super().__init__("media_unavailable")


class TryAgainLater(Exception):
    """A command that could not be handled for a reason that passes (the database out of reach
    for longer than our own retries): a platform that can have it sent again (Telegram's
    webhook, answered with an error) does so; the update's origin keeps it one run."""


class BackendError(Exception):
    """The backend failed; `retryable` tells whether trying again may help. `notice` is a
    message key (`submit.*`) saying why in plain words, when the backend told us (out of credits,
    queue full): a run that could not start records it as its error."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        retryable: bool = False,
        *,
        notice: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.notice = notice


class BackendUnavailable(BackendError):
    """Network error, timeout, 5xx after the retries were spent, or a backend that cannot take
    the run now (queue full, out of credits): the next deployment may."""

    def __init__(
        self, message: str, status: int | None = None, *, notice: str | None = None
    ) -> None:
        super().__init__(message, status, retryable=True, notice=notice)


class OutcomeUnknown(BackendUnavailable):
    """A request was sent but no reply came: the backend may have acted on it (e.g. queued)."""


class RunNotFound(BackendError):
    """The backend does not know this run (ComfyDeploy: 404 on get, 500 on cancel)."""


class FileTooLarge(Exception):
    """An output is larger than the configured cap."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"file larger than {limit} bytes")
        self.limit = limit


class SendFailed(Exception):
    """A chat platform refused or failed to take a message.

    `retry_after`: the platform said when to try again. `permanent`: the chat is gone or the bot
    was blocked; trying again cannot help. `platform_down`: this process cannot reach the
    platform now (not started, outage); it says nothing about the chat. `maybe_sent`: the
    message may have gone out all the same (a timeout after the upload)."""

    def __init__(
        self,
        message: str,
        retry_after: float | None = None,
        permanent: bool = False,
        *,
        platform_down: bool = False,
        maybe_sent: bool = False,
    ):
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.platform_down = platform_down
        self.maybe_sent = maybe_sent
