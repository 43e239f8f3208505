"""What users read: progress bars, status lines with queue position, result captions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.models import ChatRef, Run, RunStatus
from core.presentation import format_progress, format_result_caption, format_status, progress_bar

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CHAT = ChatRef(platform="telegram", chat_id="100", user_id="7")


def run(**fields: Any) -> Run:
    base: dict[str, Any] = {
        "id": "r-abc",
        "workflow": "flux",
        "deployment_id": "d1",
        "chat": CHAT,
        "created_at": T0,
        "updated_at": T0,
    }
    return Run(**{**base, **fields})


def finished(status: RunStatus, **fields: Any) -> Run:
    return run(status=status, queued_at=T0, ended_at=T0 + timedelta(seconds=90), **fields)


@pytest.mark.parametrize(
    ("fraction", "bar"),
    [
        (0.0, "▱▱▱▱▱▱▱▱▱▱"),
        (0.5, "▰▰▰▰▰▱▱▱▱▱"),
        (0.42, "▰▰▰▰▱▱▱▱▱▱"),
        (1.0, "▰▰▰▰▰▰▰▰▰▰"),
        (-0.3, "▱▱▱▱▱▱▱▱▱▱"),
        (1.7, "▰▰▰▰▰▰▰▰▰▰"),
    ],
)
def test_progress_bar(fraction: float, bar: str) -> None:
    assert progress_bar(fraction) == bar


def test_progress_bar_width() -> None:
    assert progress_bar(0.5, width=4) == "▰▰▱▱"


def test_running_status_shows_bar_percent_and_live_status() -> None:
    text = format_progress(run(), RunStatus.RUNNING, 0.42, "KSampler 12/30", None)

    assert text.splitlines() == [
        "⚙️ Running · flux · run r-abc",
        "▰▰▰▰▱▱▱▱▱▱ 42%",
        "KSampler 12/30",
    ]


@pytest.mark.parametrize(("position", "shown"), [(0, 1), (4, 5)])
@pytest.mark.parametrize("status", [RunStatus.QUEUED, RunStatus.NOT_STARTED])
def test_queued_status_shows_one_based_queue_position(
    status: RunStatus, position: int, shown: int
) -> None:
    text = format_progress(run(), status, 0.0, None, position)

    assert f"Position in queue: {shown}" in text.splitlines()
    assert "%" not in text


def test_queued_status_without_position_has_no_position_line() -> None:
    assert "Position in queue" not in format_progress(run(), RunStatus.QUEUED, 0, None, None)


def test_running_status_ignores_a_stale_queue_position() -> None:
    assert "Position in queue" not in format_progress(run(), RunStatus.RUNNING, 0.1, None, 3)


def test_status_of_a_queued_run_uses_the_stored_position() -> None:
    text = format_status(run(status=RunStatus.QUEUED, queue_position=2))

    assert text.splitlines()[0] == "⏳ Queued · flux · run r-abc"
    assert "Position in queue: 3" in text


def test_success_caption_shows_duration_and_cost() -> None:
    caption = format_result_caption(finished(RunStatus.SUCCESS, cost_usd=0.0337))
    assert caption == "✅ Done · flux · run r-abc\n⏱ 1m 30s · 💰 $0.0337"


def test_success_caption_without_known_cost_says_so() -> None:
    caption = format_result_caption(run(status=RunStatus.SUCCESS))
    assert caption.splitlines()[1] == "⏱ n/a · 💰 n/a"


@pytest.mark.parametrize(
    ("status", "head", "reason"),
    [
        (RunStatus.FAILED, "❌ Failed", "The workflow failed on the backend."),
        (RunStatus.TIMEOUT, "⌛ Timed out", "The run took too long."),
        (RunStatus.CANCELLED, "🚫 Cancelled", "The run was cancelled."),
    ],
)
def test_unsuccessful_caption_gives_a_default_reason(
    status: RunStatus, head: str, reason: str
) -> None:
    caption = format_result_caption(finished(status))
    assert caption.splitlines() == [f"{head} · flux · run r-abc", reason]


@pytest.mark.parametrize("status", [RunStatus.FAILED, RunStatus.TIMEOUT, RunStatus.CANCELLED])
def test_unsuccessful_caption_prefers_the_recorded_error(status: RunStatus) -> None:
    caption = format_result_caption(finished(status, error="CUDA out of memory"))
    assert caption.splitlines()[1] == "CUDA out of memory"


def test_failed_caption_shows_the_cost_when_there_was_one() -> None:
    caption = format_result_caption(finished(RunStatus.FAILED, error="boom", cost_usd=0.012))
    assert caption.splitlines()[1:] == ["boom", "💰 $0.0120"]


def test_status_of_a_finished_run_is_its_result_caption() -> None:
    done = finished(RunStatus.TIMEOUT)
    assert format_status(done) == format_result_caption(done)


def test_help_shows_boolean_defaults_as_yes_or_no() -> None:
    from core.models import InputSpec, InputType, Workflow
    from core.presentation import format_workflow_help

    workflow = Workflow(
        name="w",
        command="w",
        inputs=(
            InputSpec(name="prompt", type=InputType.TEXT, required=True),
            InputSpec(name="hires", type=InputType.BOOLEAN, default=False),
        ),
    )
    assert "• hires — yes/no, default no" in format_workflow_help(workflow, "w")
