"""What backends say reaches users in plain words: a message key as a run's error or live
status is translated, a backend's own words are shown as they are, a free run reads free, and
/stats splits runs and cost by backend."""

from __future__ import annotations

from datetime import UTC, datetime

from core.chat.content import Stats
from core.chat.text_render import TextRenderer
from core.locales.en import MESSAGES
from core.models import BackendTotals, ChatRef, ProgressView, Run, RunStatus
from tests.unit.test_core_text_render import PlainSyntax

WORDS = TextRenderer(PlainSyntax())
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def run(**fields: object) -> Run:
    chat = ChatRef(platform="console", chat_id="c", user_id="u")
    return Run(
        id="r1", workflow="txt2img", deployment_id="d", chat=chat, created_at=NOW, updated_at=NOW
    ).model_copy(update=fields)


def test_a_message_key_as_the_error_is_translated() -> None:
    failed = run(status=RunStatus.FAILED, error="submit.no_credits")
    assert MESSAGES["submit.no_credits"] in WORDS.result_summary(failed)
    own = run(status=RunStatus.FAILED, error="run.exploded: CUDA out of memory")
    assert "run.exploded: CUDA out of memory" in WORDS.result_summary(own)


def test_a_cold_start_is_said_while_queued_and_an_empty_live_status_says_nothing() -> None:
    queued = run(status=RunStatus.QUEUED)
    view = ProgressView(
        run=queued, status=RunStatus.QUEUED, progress=0, live_status="live.cold_start"
    )
    assert "Starting a GPU machine (cold start, can take a few minutes)" in WORDS.progress(view)
    quiet = view.model_copy(update={"live_status": ""})
    assert WORDS.progress(quiet).count("\n") == 0


def test_a_free_run_reads_free() -> None:
    done = run(
        status=RunStatus.SUCCESS,
        queued_at=NOW,
        ended_at=NOW.replace(second=3),
        cost_usd=0.0,
    )
    assert "💰 free" in WORDS.result_summary(done)
    assert "💰 $0.0123" in WORDS.result_summary(done.model_copy(update={"cost_usd": 0.0123}))


def test_stats_split_by_backend() -> None:
    stats = Stats(
        counts={RunStatus.SUCCESS: 3},
        total_cost=0.5,
        workflows=2,
        backends={
            "runcomfy": BackendTotals(runs=2, cost_usd=0.5),
            "comfyapi": BackendTotals(runs=1, cost_usd=0.0),
        },
    )
    text = WORDS.render(stats)
    assert text is not None
    assert text.text.splitlines()[-2:] == [
        "  comfyapi: 1 runs, free",
        "  runcomfy: 2 runs, $0.5000",
    ]
