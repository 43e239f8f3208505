"""What users of the text platforms read: progress bars, status lines with queue position,
result captions, help, and every kind of content in the text front door's syntax."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.actions import Action, ActionKind
from core.chat.content import (
    GeneralHelp,
    Message,
    Problems,
    RunAccepted,
    WorkflowEntry,
    WorkflowHelp,
    WorkflowList,
)
from core.chat.presentation import progress_bar
from core.chat.text_render import TextRenderer
from core.models import ChatRef, ProgressView, Run, RunStatus
from core.notices import Cmd, Hint, Notice, Problem
from core.workflow import InputSpec, InputType


class PlainSyntax:
    """A text platform of the test's own, so what comes from the platform is visible."""

    phrases = {
        "attach_image": "send one as {input}",
        "attach_image_short": "send an image",
        "list_needs_image": "needs an image",
        "image_help": "Images go here.",
        "options_hint": "say name:value",
        "options_usage": "[name:value …]",
        "option_forms": "name:value",
        "main_input": "the text",
        "run_usage": "!<command> what you want",
        "runs_all_usage": "!runs all",
        "use_image": "send it with {example}",
    }

    def hints(self, language: str) -> dict[str, str]:
        return self.phrases

    def command(self, name: str) -> str:
        return f"!{name}"

    def option(self, name: str) -> str:
        return f"{name}:…"

    def usage(self, command: str, argument: str) -> str:
        return f"!{command} ({argument})"

    def argument(self, name: str, words: str) -> str:
        return words

    def assignment(self, name: str, value: str) -> str:
        return f"{name}:{value}"


WORDS = TextRenderer(PlainSyntax())


def format_progress(
    run: Run, status: RunStatus, progress: float, live: str | None, position: int | None
) -> str:
    view = ProgressView(
        run=run, status=status, progress=progress, live_status=live, queue_position=position
    )
    return WORDS.progress(view)


def format_result_summary(run: Run) -> str:
    return WORDS.result_summary(run)


def format_status(run: Run) -> str:
    return WORDS.run_status(run)


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
    caption = format_result_summary(finished(RunStatus.SUCCESS, cost_usd=0.0337))
    assert caption == "✅ Done · flux · run r-abc\n⏱ 1m 30s · 💰 $0.0337"


def test_success_caption_without_known_cost_says_so() -> None:
    caption = format_result_summary(run(status=RunStatus.SUCCESS))
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
    caption = format_result_summary(finished(status))
    assert caption.splitlines() == [f"{head} · flux · run r-abc", reason]


@pytest.mark.parametrize("status", [RunStatus.FAILED, RunStatus.TIMEOUT, RunStatus.CANCELLED])
def test_unsuccessful_caption_prefers_the_recorded_error(status: RunStatus) -> None:
    caption = format_result_summary(finished(status, error="CUDA out of memory"))
    assert caption.splitlines()[1] == "The backend said: CUDA out of memory"


def test_failed_caption_shows_the_cost_when_there_was_one() -> None:
    caption = format_result_summary(finished(RunStatus.FAILED, error="boom", cost_usd=0.012))
    assert caption.splitlines()[1:] == ["The backend said: boom", "💰 $0.0120"]


def test_status_of_a_finished_run_is_its_result_summary() -> None:
    done = finished(RunStatus.TIMEOUT)
    assert format_status(done) == format_result_summary(done)


def test_help_shows_boolean_defaults_as_yes_or_no() -> None:
    help = WorkflowHelp(
        entry=WorkflowEntry("w", "W", "", False),
        inputs=(
            InputSpec(name="prompt", type=InputType.TEXT, required=True),
            InputSpec(name="hires", type=InputType.BOOLEAN, default=False),
        ),
        main_input="prompt",
    )
    reply = WORDS.render(help)
    assert reply is not None
    assert "• hires — yes/no, default no" in reply.text.splitlines()
    assert "• prompt — text, required, the text" in reply.text.splitlines()


def test_help_for_a_workflow_with_images_says_how_to_send_them() -> None:
    help = WorkflowHelp(
        entry=WorkflowEntry("up", "Up", "Bigger", True),
        inputs=(InputSpec(name="image", type=InputType.IMAGE, required=True),),
        main_input=None,
    )
    reply = WORDS.render(help)
    assert reply is not None
    assert reply.text.splitlines()[:3] == ["!up [name:value …]", "Bigger", "Images go here."]


def test_problems_name_the_command_and_the_platform_phrases() -> None:
    content = Problems(
        command="flux_2",
        problems=(
            Problem.of("input.missing_main", "prompt"),
            Problem.of("input.missing_image", "image"),
            Problem.of("input.missing", "width"),
            Problem.of("input.unknown", "colour", known="prompt, width"),
            Problem.of("input.no_free_text"),
        ),
    )
    reply = WORDS.render(content)
    assert reply is not None
    assert reply.text.splitlines() == [
        "!flux_2 needs a prompt: !flux_2 (prompt).",
        "!flux_2 needs an image: send one as image.",
        "`width` is required: add width:…",
        "Unknown option `colour`. Options of !flux_2: prompt, width.",
        "!flux_2 takes no free text; say name:value.",
    ]


def test_a_notice_renders_commands_and_hints_in_the_platforms_words() -> None:
    notice = Notice.of("unknown_command", command=Cmd("paint"), workflows=Cmd("workflows"))
    assert WORDS.notice(notice) == "I don't know !paint. See !workflows."
    assert (
        WORDS.text("help.run", usage=Hint("run_usage"))
        == "Run a workflow: !<command> what you want"
    )


def test_content_carries_its_actions_and_an_accepted_run_needs_no_reply() -> None:
    reply = WORDS.render(
        Message(notice=Notice.of("no_runs"), actions=(Action(ActionKind.CANCEL, "r1"),))
    )
    assert reply is not None and reply.actions == (Action(ActionKind.CANCEL, "r1"),)
    assert WORDS.render(RunAccepted(run=run())) is None


def test_general_help_and_an_empty_list() -> None:
    help_reply = WORDS.render(GeneralHelp())
    assert help_reply is not None
    assert help_reply.text.splitlines()[:3] == [
        "Commands:",
        "!workflows — what you can run",
        "!help (command) — its options",
    ]
    listing = WORDS.render(WorkflowList(entries=()))
    assert listing is not None and listing.text == "No workflows are available right now."
    media = WORDS.render(WorkflowList(entries=(WorkflowEntry("up", "Up", "", True),)))
    assert media is not None and media.text == "Workflows:\n!up — Up (needs an image)"
