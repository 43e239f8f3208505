"""Builders for runs and events used by the RunStore contract suite."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from core.models import (
    ChatRef,
    EventSource,
    Output,
    OutputKind,
    Run,
    RunEvent,
    RunStatus,
    Submission,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def make_run(*, created_at: datetime = NOW, user_id: str = "42", **fields: Any) -> Run:
    values: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "workflow": "flux",
        "deployment_id": "dep-1",
        "inputs": {"prompt": "a red fox", "steps": 20},
        "chat": ChatRef(platform="telegram", chat_id="100", user_id=user_id, message_id="7"),
        "rate_usd_per_s": 0.001,
        "created_at": created_at,
        "updated_at": created_at,
    }
    values.update(fields)
    return Run(**values)


def event(
    status: RunStatus, progress: float | None = None, backend_run_id: str = "b-1", **fields: Any
) -> RunEvent:
    return RunEvent(
        backend_run_id=backend_run_id,
        status=status,
        source=EventSource.WEBHOOK,
        progress=progress,
        **fields,
    )


def image(n: int) -> Output:
    return Output(kind=OutputKind.IMAGE, url=f"https://cdn.example/{n}.png", filename=f"{n}.png")


def submission(backend_run_id: str, next_poll_at: datetime) -> Submission:
    return Submission(
        backend_run_id=backend_run_id,
        backend="comfydeploy",
        deployment_id="dep-2",
        gpu="A10G",
        rate_usd_per_s=0.0005,
        submitted_at=NOW,
        next_poll_at=next_poll_at,
    )


def ended_run(
    workflow: str,
    user_id: str,
    created_at: datetime,
    seconds: float | None,
    cost_usd: float | None,
    status: RunStatus = RunStatus.SUCCESS,
    user_name: str = "",
    **fields: Any,
) -> Run:
    """A run as stored once it ended `seconds` after it was queued (None: still running)."""
    chat = ChatRef(platform="telegram", chat_id="100", user_id=user_id, user_name=user_name)
    timing: dict[str, Any] = {}
    if seconds is not None:
        timing = {"queued_at": created_at, "ended_at": created_at + seconds * SECOND}
    return make_run(
        created_at=created_at,
        workflow=workflow,
        chat=chat,
        status=status,
        cost_usd=cost_usd,
        **{**timing, **fields},
    )
