"""Runs as API clients read them: the run's state in the engine's words (`success`, `failed` …),
its outputs once its result was delivered to the API (URLs the bot serves, and the backend's),
its time, cost and price in credits, and the URLs to follow it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.api_requests import ApiResult
from core.chat.text_render import TextRenderer
from core.credits import CENTS, charge_for
from core.models import DeliveryState, Run, RunStatus

API = "/api/v1"
SETTLED = frozenset({DeliveryState.DELIVERED, DeliveryState.ABANDONED})
_WAITING = frozenset({RunStatus.NOT_STARTED, RunStatus.QUEUED})


def credits(cents: int | None) -> float | None:
    """Hundredths of a credit as the number of credits (two decimals)."""
    return None if cents is None else round(cents / CENTS, 2)


def run_urls(base: str, run_id: str) -> dict[str, str]:
    own = f"{base}{API}/runs/{run_id}"
    return {"self": own, "events": f"{own}/events", "cancel": f"{own}/cancel"}


def quote_of(run: Run) -> dict[str, Any] | None:
    if run.credits is None:
        return None
    return {"credits": credits(run.credits.quoted), "held": credits(run.credits.held)}


def is_final(run: Run, result: ApiResult | None) -> bool:
    """Nothing about the run changes any more: it ended and its result is recorded (or its
    delivery is over without one)."""
    return run.status.terminal and (result is not None or run.delivery in SETTLED)


class RunViews:
    def __init__(self, words: TextRenderer) -> None:
        self._words = words

    def view(
        self,
        run: Run,
        result: ApiResult | None,
        base: str,
        *,
        place: int | None = None,
        language: str | None = None,
    ) -> dict[str, Any]:
        """`place`: the run's place in our own queue while it waits there (1 = next)."""
        words = self._words.for_language(language)
        terminal = run.status.terminal
        if place is None and run.queue_position is not None and run.status in _WAITING:
            place = run.queue_position + 1
        error = None
        if terminal and run.status is not RunStatus.SUCCESS:
            error = words.run_error(run) or None
        return {
            "id": run.id,
            "workflow": run.workflow,
            "status": run.status.value,
            "progress": round(run.progress, 4),
            "live_status": words.live(run.live_status) if run.live_status else None,
            "queue_position": None if terminal else place,
            "inputs": run.inputs,
            "created_at": _iso(run.created_at),
            "started_at": _iso(run.started_at),
            "ended_at": _iso(run.ended_at),
            "run_time_s": run.duration_s,
            "cost_usd": run.cost_usd,
            "quote": quote_of(run),
            "charged": credits(charge_for(run)) if terminal and run.credits else None,
            "balance": credits(result.balance) if result else None,
            "error": error,
            "outputs": self._outputs(run, result, base),
            "texts": list(result.texts) if result else [],
            "final": is_final(run, result),
            "urls": run_urls(base, run.id),
        }

    def _outputs(self, run: Run, result: ApiResult | None, base: str) -> list[dict[str, Any]]:
        if result is None:
            return []
        outputs = []
        for index, file in enumerate(result.files):
            served = f"{base}{API}/runs/{run.id}/outputs/{index}" if file.saved else None
            outputs.append(
                {
                    "kind": file.kind.value,
                    "filename": file.filename,
                    "mime": file.mime,
                    "size": file.size,
                    "url": served or file.source_url,
                    "source_url": file.source_url,
                }
            )
        return outputs


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")
