"""Errors users can fix (shown in chat) versus everything else (logged with the run id)."""

from __future__ import annotations


class UserFacingError(Exception):
    """A problem the user can fix; its message is shown in chat as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(UserFacingError):
    """One or more command arguments are wrong; `problems` holds one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class UnknownWorkflow(UserFacingError):
    pass


class UnknownRun(UserFacingError):
    pass


class NotAllowed(UserFacingError):
    pass


class FileRejected(UserFacingError):
    """A user's file is too large or not an accepted type."""


class BackendError(Exception):
    """The backend failed; `retryable` tells whether trying again may help."""

    def __init__(self, message: str, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class BackendUnavailable(BackendError):
    """Network error, timeout or 5xx after the retries were spent."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message, status, retryable=True)


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
    """A chat platform refused or failed to take a message; `retry_after` when it said so."""

    def __init__(self, message: str, retry_after: float | None = None, permanent: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
