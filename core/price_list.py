"""What a run of a workflow is expected to cost before anyone runs it: where it would go first,
how long it usually takes, and its price in USD and in credits (the quote a run would be
admitted with, see core/credits.py)."""

from __future__ import annotations

from dataclasses import dataclass

from core.costs import CostService
from core.credits import CreditPolicy
from core.quotes import Quoter
from core.routing import Router
from core.workflow import Workflow


@dataclass(frozen=True)
class Quote:
    backend: str | None
    """The backend of the deployment tried first; None when the workflow has none."""
    expected_seconds: float
    usd: float | None
    """None when the backend cannot price the deployment."""
    credits: int | None
    """The quoted price in hundredths of a credit; None when credits are off."""
    held: int | None
    """What is held from the balance while the run waits and runs."""


class PriceList:
    def __init__(
        self, router: Router, costs: CostService, quoter: Quoter, credits: CreditPolicy
    ) -> None:
        self._router = router
        self._costs = costs
        self._quoter = quoter
        self._credits = credits

    async def quote(self, workflow: Workflow) -> Quote:
        expected = await self._quoter.expected_seconds(workflow)
        candidates = self._router.candidates(workflow)
        if not candidates:
            return Quote(None, expected, None, None, None)
        rate = self._costs.rate_for(self._costs.deployment(candidates[0], workflow))
        terms = self._credits.terms(expected, rate)
        return Quote(
            backend=candidates[0].backend,
            expected_seconds=expected,
            usd=None if rate is None else expected * rate,
            credits=terms.quoted if terms else None,
            held=terms.held if terms else None,
        )

    def typical_seconds(self, workflow: Workflow) -> float:
        """How long a run usually takes, from what is known now (nothing is read)."""
        return self._quoter.known_seconds(workflow)
