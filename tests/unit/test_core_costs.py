"""Run costs from GPU time: rate cards (live or built-in), final cost, how costs and times read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from core.costs import FALLBACK_USD_PER_SECOND, CostService, format_cost, format_duration
from core.errors import BackendError, BackendUnavailable
from core.models import ChatRef, Run, RunStatus
from core.ports import WorkflowBackend

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CHAT = ChatRef(platform="telegram", chat_id="100", user_id="7")


class PricedBackend:
    def __init__(self, prices: dict[str, float] | None = None, error: Exception | None = None):
        self.prices = prices or {}
        self.error = error

    async def gpu_prices(self) -> dict[str, float]:
        if self.error is not None:
            raise self.error
        return dict(self.prices)


def service(prices: dict[str, float] | None = None, error: Exception | None = None) -> CostService:
    return CostService(cast(WorkflowBackend, PricedBackend(prices, error)))


def finished_run(**fields: Any) -> Run:
    base: dict[str, Any] = {
        "id": "r1",
        "workflow": "flux",
        "deployment_id": "d1",
        "chat": CHAT,
        "status": RunStatus.SUCCESS,
        "created_at": T0,
        "updated_at": T0,
    }
    return Run(**{**base, **fields})


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- final cost ---------------------------------------------------------------------------------


def test_final_cost_is_rate_times_queued_to_ended() -> None:
    run = finished_run(
        rate_usd_per_s=0.000337, submitted_at=at(0), queued_at=at(2), started_at=at(30),
        ended_at=at(102),
    )  # fmt: skip
    assert CostService.final_cost(run) == pytest.approx(0.0337, abs=1e-12)


def test_final_cost_is_rounded_to_six_decimals() -> None:
    run = finished_run(rate_usd_per_s=0.000123456789, queued_at=at(0), ended_at=at(10))
    assert CostService.final_cost(run) == 0.001235


def test_final_cost_counts_from_start_or_submission_when_queue_time_is_unknown() -> None:
    started = finished_run(rate_usd_per_s=0.001, started_at=at(10), ended_at=at(20))
    submitted = finished_run(rate_usd_per_s=0.001, submitted_at=at(0), ended_at=at(20))
    assert CostService.final_cost(started) == 0.01
    assert CostService.final_cost(submitted) == 0.02


def test_final_cost_unknown_without_rate_or_end() -> None:
    assert CostService.final_cost(finished_run(queued_at=at(0), ended_at=at(10))) is None
    no_end = finished_run(rate_usd_per_s=0.001, queued_at=at(0))
    assert CostService.final_cost(no_end) is None


def test_clock_skew_never_gives_a_negative_cost() -> None:
    run = finished_run(rate_usd_per_s=0.001, queued_at=at(10), ended_at=at(5))
    assert CostService.final_cost(run) == 0.0


# -- rate cards ---------------------------------------------------------------------------------


def test_built_in_table_before_any_refresh() -> None:
    costs = service()
    assert costs.rate_for("A10G") == FALLBACK_USD_PER_SECOND["A10G"] == 0.000337
    assert costs.rate_for("h100") == 0.002338


def test_unknown_or_missing_gpu_has_no_rate() -> None:
    costs = service()
    assert costs.rate_for("TPU-9000") is None
    assert costs.rate_for(None) is None
    assert costs.rate_for("") is None


@pytest.mark.parametrize(
    "error", [BackendError("500 from pricing", 500), BackendUnavailable("connection refused")]
)
async def test_pricing_failure_keeps_the_built_in_table(error: Exception) -> None:
    costs = service(error=error)
    await costs.refresh()
    assert costs.rate_for("T4") == 0.000180
    assert costs.rate_for("B200") == 0.002604


async def test_live_prices_override_and_the_table_fills_the_gaps() -> None:
    costs = service({"T4": 0.0002, "X1": 0.01})
    await costs.refresh()

    assert costs.rate_for("T4") == 0.0002
    assert costs.rate_for("x1") == 0.01
    assert costs.rate_for("L4") == 0.000320


async def test_an_empty_live_table_changes_nothing() -> None:
    costs = service({})
    await costs.refresh()
    assert costs.rate_for("T4") == 0.000180


async def test_a_later_failure_keeps_the_last_live_prices() -> None:
    backend = PricedBackend({"T4": 0.0002})
    costs = CostService(cast(WorkflowBackend, backend))
    await costs.refresh()
    backend.error = BackendUnavailable("down")
    await costs.refresh()
    assert costs.rate_for("T4") == 0.0002


# -- formatting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usd", "shown"),
    [(None, "n/a"), (0.0, "$0.0000"), (0.0337, "$0.0337"), (0.12345, "$0.1235"),
     (1.0, "$1.00"), (12.345, "$12.35"), (1234.5, "$1234.50")],
)  # fmt: skip
def test_format_cost(usd: float | None, shown: str) -> None:
    assert format_cost(usd) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "n/a"), (0, "0.0s"), (12.34, "12.3s"), (59.9, "59.9s"), (60, "1m 00s"),
     (89.5, "1m 30s"), (125, "2m 05s"), (3599.4, "59m 59s"), (3600, "1h 00m"),
     (3725, "1h 02m"), (90000, "25h 00m")],
)  # fmt: skip
def test_format_duration(seconds: float | None, shown: str) -> None:
    assert format_duration(seconds) == shown


def test_durations_just_under_a_minute_round_up_to_a_minute() -> None:
    assert format_duration(59.96) == "1m 00s"
