"""A request to run a workflow, as every platform hands it to the engine: typed values and media,
both keyed by the workflow's input names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from core.models import ChatRef

InputValue = str | int | float | bool
"""Text platforms give strings (converted by the input's type); others give typed values."""


class Attachment(Protocol):
    """A user's file, not yet downloaded: the engine checks the size first and reads it only once
    the user may run the workflow and every other input is valid."""

    @property
    def filename(self) -> str: ...

    @property
    def size(self) -> int | None:
        """Bytes, when the platform says so before the download."""
        ...

    async def read(self, max_bytes: int) -> bytes:
        """The file's bytes; raises `FileRejected` past `max_bytes`, `MediaUnavailable` when
        it cannot be fetched."""
        ...


@dataclass(frozen=True)
class RunRequest:
    workflow: str
    chat: ChatRef
    inputs: Mapping[str, InputValue] = field(default_factory=dict)
    media: Mapping[str, Attachment] = field(default_factory=dict)
    origin: str | None = None
    """See `Run.origin`."""
