"""What the chat layer answered, as HTTP: its refusals keep their message key as the error code
and get their status here; problems with a run request are 422, each naming its input, in the
same words as in chat."""

from __future__ import annotations

import math

from adapters.api.errors import ApiError, ProblemView
from core.chat.content import Content, Message, Problems
from core.chat.text_render import TextRenderer
from core.notices import Problem
from core.workflow import Workflow

STATUS_OF: dict[str, int] = {
    "unknown_workflow": 404,
    "workflow_gone": 404,
    "unknown_run": 404,
    "unknown_run_of_yours": 404,
    "cancel_not_owner": 404,
    "no_credits": 402,
    "queue_full": 429,
    "slow_down": 429,
    "banned": 403,
    "not_allowed_to_run": 403,
    "admin_only": 403,
    "run_already_ended": 409,
    "media_unavailable": 422,
    "cancel_refused": 502,
    "no_deployment": 503,
    "failure": 500,
}
"""Refusals by message key; any other is 400."""
MISSING = frozenset({"input.missing", "input.missing_image", "input.missing_main"})


def refusal(
    content: Content,
    words: TextRenderer,
    workflow: Workflow | None = None,
    *,
    retry_after_s: float | None = None,
) -> ApiError:
    """The error for an answer that is not what was asked for. `retry_after_s`: when a client
    turned away by a cap may try again (the rate limit's own window says it, when it does)."""
    if isinstance(content, Problems):
        command = workflow.name if workflow is not None else content.command
        problems = [
            ProblemView(problem.input, words.problem(problem, command))
            for problem in _without_echoes(content.problems)
        ]
        message = "; ".join(p.message for p in problems)
        return ApiError(422, "invalid_input", message, problems)
    if not isinstance(content, Message):
        return ApiError(429, "rate_limited", "Too many requests.", headers=_after(retry_after_s))
    key = content.notice.key
    status = STATUS_OF.get(key, 400)
    headers: dict[str, str] = {}
    if status == 429:
        seconds = content.notice.params.get("seconds")
        wait = float(seconds) if isinstance(seconds, int | float) else retry_after_s
        headers = _after(wait)
    return ApiError(status, key, words.notice(content.notice), headers=headers)


def _without_echoes(problems: tuple[Problem, ...]) -> list[Problem]:
    """An input refused by the front door (an upload that is not the key's) is also missing to
    the engine; one problem about it is enough."""
    named = {p.input for p in problems if p.key not in MISSING}
    return [p for p in problems if not (p.key in MISSING and p.input in named)]


def _after(seconds: float | None) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds or 60)))}
