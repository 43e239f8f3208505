"""The part of an in-flight run that status edits need and that never changes, cached in memory
so a progress event costs one database write and no read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.models import ChatRef, Run, RunEvent, RunStatus

HEAD_CACHE_SIZE = 20_000
HEAD_CACHE_TTL_S = 3600


@dataclass(frozen=True, slots=True)
class RunHead:
    """What a status edit needs of a run and never changes: kept per in-flight run in memory
    (a few hundred bytes; the run itself stays in the database)."""

    workflow: str
    deployment_id: str
    chat: tuple[str, str, str, str | None, str | None, str]
    progress_message_id: str
    created_at: datetime

    @classmethod
    def of(cls, run: Run) -> RunHead:
        chat = run.chat
        return cls(
            run.workflow,
            run.deployment_id,
            (
                chat.platform,
                chat.chat_id,
                chat.user_id,
                chat.thread_id,
                chat.message_id,
                chat.user_name,
            ),
            run.progress_message_id or "",
            run.created_at,
        )

    def with_event(self, run_id: str, event: RunEvent) -> Run:
        platform, chat_id, user_id, thread_id, message_id, user_name = self.chat
        queue = event.queue_position if event.status.rank < RunStatus.STARTED.rank else None
        return Run.model_construct(
            id=run_id,
            workflow=self.workflow,
            deployment_id=self.deployment_id,
            chat=ChatRef.model_construct(
                platform=platform,
                chat_id=chat_id,
                user_id=user_id,
                thread_id=thread_id,
                message_id=message_id,
                user_name=user_name,
            ),
            status=event.status,
            progress=event.progress or 0.0,
            live_status=event.live_status,
            queue_position=queue,
            backend_run_id=event.backend_run_id,
            created_at=self.created_at,
            updated_at=self.created_at,
            progress_message_id=self.progress_message_id,
        )
