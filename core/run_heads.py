"""The part of an in-flight run that status edits need and that never changes, cached in memory
so a progress event costs one database write and no read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.models import ChatRef, Run, RunEvent, RunStatus

HEAD_CACHE_SIZE = 20_000
HEAD_CACHE_TTL_S = 3600


_CHAT_FIELDS = tuple(ChatRef.model_fields)
_FIELDS_SETS: dict[frozenset[str], frozenset[str]] = {}
"""The few distinct sets of fields given to a ChatRef, shared by every head (one set is
hundreds of bytes)."""


@dataclass(frozen=True, slots=True)
class RunHead:
    """What a status edit needs of a run and never changes: kept per in-flight run in memory
    (a few hundred bytes; the run itself stays in the database). The chat is kept as its
    values, not as a ChatRef (a pydantic model's dict and field set are about 1 kB), and made
    again for each event."""

    workflow: str
    deployment_id: str
    chat_values: tuple[object, ...]
    """Every field of the chat, whole, so edits speak the user's language and know a group
    from a private chat."""
    chat_fields_set: frozenset[str]
    progress_message_id: str
    created_at: datetime

    @classmethod
    def of(cls, run: Run) -> RunHead:
        chat = run.chat
        given = frozenset(chat.model_fields_set)
        return cls(
            run.workflow,
            run.deployment_id,
            tuple(getattr(chat, name) for name in _CHAT_FIELDS),
            _FIELDS_SETS.setdefault(given, given),
            run.progress_message_id or "",
            run.created_at,
        )

    @property
    def chat(self) -> ChatRef:
        values: dict[str, Any] = dict(zip(_CHAT_FIELDS, self.chat_values, strict=True))
        return ChatRef.model_construct(set(self.chat_fields_set), **values)

    def with_event(self, run_id: str, event: RunEvent) -> Run:
        queue = event.queue_position if event.status.rank < RunStatus.STARTED.rank else None
        return Run.model_construct(
            id=run_id,
            workflow=self.workflow,
            deployment_id=self.deployment_id,
            chat=self.chat,
            status=event.status,
            progress=event.progress or 0.0,
            live_status=event.live_status,
            queue_position=queue,
            backend_run_id=event.backend_run_id,
            created_at=self.created_at,
            updated_at=self.created_at,
            progress_message_id=self.progress_message_id,
        )
