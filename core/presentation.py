"""Plain-text renderings shared by every chat platform: lists, help, status, captions."""

from __future__ import annotations

from collections.abc import Mapping

from core.costs import format_cost, format_duration
from core.models import InputSpec, InputType, Run, RunStatus, Workflow

STATUS_WORDS: dict[RunStatus, str] = {
    RunStatus.PENDING: "⏳ Starting",
    RunStatus.NOT_STARTED: "⏳ Waiting for a GPU",
    RunStatus.QUEUED: "⏳ Queued",
    RunStatus.STARTED: "⚙️ Started",
    RunStatus.RUNNING: "⚙️ Running",
    RunStatus.UPLOADING: "📤 Uploading",
    RunStatus.SUCCESS: "✅ Done",
    RunStatus.FAILED: "❌ Failed",
    RunStatus.TIMEOUT: "⌛ Timed out",
    RunStatus.CANCELLED: "🚫 Cancelled",
}


def format_workflow_list(workflows: list[Workflow], names: Mapping[str, str]) -> str:
    if not workflows:
        return "No workflows are available right now."
    lines = ["Workflows:"]
    for workflow in workflows:
        command = names.get(workflow.name, workflow.command)
        about = workflow.description or workflow.title or workflow.name
        media = "" if workflow.text_only else " (send an image with this command as caption)"
        lines.append(f"/{command} — {about}{media}")
    return "\n".join(lines)


def format_workflow_help(workflow: Workflow, command: str) -> str:
    main = workflow.main_text_input
    usage = f"/{command}" + (f" <{main.name}>" if main else "") + " [key=value …]"
    lines = [usage]
    if workflow.description:
        lines.append(workflow.description)
    if workflow.image_inputs:
        lines.append("Send an image with the command as its caption, or reply to an image.")
    lines.append("Inputs:")
    lines.extend(f"• {_describe_input(spec, spec is main)}" for spec in workflow.inputs)
    return "\n".join(lines)


def _describe_input(spec: InputSpec, is_main: bool) -> str:
    kind = {
        InputType.TEXT: "text",
        InputType.NUMBER: "number",
        InputType.INTEGER: "whole number",
        InputType.BOOLEAN: "yes/no",
        InputType.IMAGE: "image",
        InputType.CHOICE: "one of " + ", ".join(spec.choices or ()),
    }[spec.type]
    parts = [f"{spec.name} — {kind}"]
    if spec.min is not None or spec.max is not None:
        low = "…" if spec.min is None else f"{spec.min:g}"
        high = "…" if spec.max is None else f"{spec.max:g}"
        parts.append(f"{low}–{high}")
    if spec.max_length:
        parts.append(f"up to {spec.max_length} characters")
    if spec.required:
        parts.append("required")
    elif isinstance(spec.default, bool):
        parts.append(f"default {'yes' if spec.default else 'no'}")
    elif spec.default not in (None, ""):
        parts.append(f"default {spec.default}")
    if is_main:
        parts.append("free text goes here")
    text = ", ".join(parts)
    return f"{text}. {spec.description}" if spec.description else text


def progress_bar(fraction: float, width: int = 10) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "▰" * filled + "▱" * (width - filled)


def format_progress(
    run: Run, status: RunStatus, progress: float, live: str | None, queue_position: int | None
) -> str:
    lines = [f"{STATUS_WORDS[status]} · {run.workflow} · run {run.id}"]
    if status in (RunStatus.RUNNING, RunStatus.UPLOADING, RunStatus.STARTED):
        lines.append(f"{progress_bar(progress)} {round(progress * 100)}%")
    if queue_position is not None and status in (RunStatus.NOT_STARTED, RunStatus.QUEUED):
        lines.append(f"Position in queue: {queue_position + 1}")
    if live:
        lines.append(live)
    return "\n".join(lines)


def format_result_caption(run: Run) -> str:
    """The line under a result: what ran, how long it took, what it cost, or why it ended."""
    head = f"{STATUS_WORDS[run.status]} · {run.workflow} · run {run.id}"
    if run.status is RunStatus.SUCCESS:
        return f"{head}\n⏱ {format_duration(run.duration_s)} · 💰 {format_cost(run.cost_usd)}"
    reason = run.error or {
        RunStatus.FAILED: "The workflow failed on the backend.",
        RunStatus.TIMEOUT: "The run took too long.",
        RunStatus.CANCELLED: "The run was cancelled.",
    }.get(run.status, "")
    cost = f"\n💰 {format_cost(run.cost_usd)}" if run.cost_usd else ""
    return f"{head}\n{reason}{cost}"


def format_status(run: Run) -> str:
    if run.status.terminal:
        return format_result_caption(run)
    return format_progress(run, run.status, run.progress, run.live_status, run.queue_position)


def format_run_line(run: Run) -> str:
    return (
        f"{run.id} {run.workflow} {run.status.value} {format_duration(run.duration_s)} "
        f"{format_cost(run.cost_usd)} {run.chat.user_key}"
    )


def format_stats(counts: Mapping[RunStatus, int], total_cost: float, workflows: int) -> str:
    lines = [f"Workflows: {workflows}", f"Runs: {sum(counts.values())}"]
    lines += [f"  {status.value}: {count}" for status, count in sorted(counts.items()) if count]
    lines.append(f"Total cost: {format_cost(total_cost)}")
    return "\n".join(lines)
