"""Credits: what runs cost users. Amounts are whole hundredths of a credit ("cents"), so every
sum in the ledger is exact; credits are shown with two decimals and a price rounds up.

A run's price is fixed when it is admitted (`RunCredits` on the run): its quote (expected GPU
seconds x the deployment's rate x PRICE_MULTIPLIER / CREDIT_USD), and the amount held from the
balance until it ends (the quote x MAX_RESERVE_FACTOR). At the end it is charged its actual GPU
time at the same rate, never more than was held; failed, cancelled and timed-out runs are not
charged unless CHARGE_FAILED_RUNS. `charge_for` is that rule, a pure function of the stored run,
so the settlement, `/usage` and a result's caption always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.models import Run, RunCredits, RunStatus

CENTS = 100
"""Hundredths in one credit."""


@dataclass(frozen=True)
class CreditPolicy:
    enabled: bool = True
    """False: nobody is charged (costs in USD are still recorded)."""
    credit_usd: float = 0.01
    """What one credit is worth."""
    multiplier: float = 1.0
    """PRICE_MULTIPLIER: users pay the GPU cost times this."""
    max_reserve_factor: float = 1.5
    """How much of the quote is held while a run waits and runs."""
    charge_failed: bool = False
    new_user_cents: int = 0
    """Given to each user the first time they use the bot."""
    default_expected_s: float = 60.0
    """Expected GPU seconds of a workflow with no declared figure and no history."""

    @property
    def cents_per_usd(self) -> float:
        return self.multiplier / self.credit_usd * CENTS

    def terms(self, expected_s: float, rate_usd_per_s: float | None) -> RunCredits | None:
        """The price of a run expected to take `expected_s` at `rate_usd_per_s`; None when
        credits are off."""
        if not self.enabled:
            return None
        quoted = cents_for(expected_s * (rate_usd_per_s or 0.0), self.cents_per_usd)
        return RunCredits(
            held=math.ceil(quoted * self.max_reserve_factor),
            quoted=quoted,
            cents_per_usd=self.cents_per_usd,
            charge_failed=self.charge_failed,
        )


def cents_for(usd: float, cents_per_usd: float) -> int:
    """`usd` in hundredths of a credit, rounded up (to the nearest micro-cent first, so a float
    product like 12.000000001 does not become 13)."""
    return max(0, math.ceil(round(usd * cents_per_usd, 6)))


def charge_for(run: Run) -> int:
    """What the ended `run` costs its user: its GPU time at its price, at most what was held."""
    terms = run.credits
    if terms is None or not run.status.terminal or run.cost_usd is None:
        return 0
    if run.status is not RunStatus.SUCCESS and not terms.charge_failed:
        return 0
    return min(cents_for(run.cost_usd, terms.cents_per_usd), terms.held)


def format_credits(cents: int) -> str:
    """Two decimals, as credits are always shown: 1234 -> "12.34"."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), CENTS)
    return f"{sign}{whole}.{part:02d}"


def parse_credits(text: str) -> int | None:
    """ "12", "12.5", "12.34" -> hundredths; None for anything else (three decimals included)."""
    whole, dot, part = text.strip().partition(".")
    if not whole.isdigit() or (dot and not (part.isdigit() and len(part) <= 2)):
        return None
    return int(whole) * CENTS + (int(part.ljust(2, "0")) if part else 0)
