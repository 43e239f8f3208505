"""RunComfy's prices: USD per hour by hardware tier, pay-as-you-go ("Hobby") rates from
https://docs.runcomfy.com/serverless/about-billing (H200 from
https://docs.runcomfy.com/serverless-lora/about-billing), overridable per tier (Pro plan prices
are 20-30 % lower).

RunComfy bills instance uptime per second: cold start, execution and keep-warm. A run is
costed from its request's creation to its end, so a cold start it waited for counts; keep-warm
time after it belongs to no run.
"""

from __future__ import annotations

from collections.abc import Mapping

PAY_AS_YOU_GO_USD_PER_HOUR: Mapping[str, float] = {
    "TURING_16": 0.99,
    "AMPERE_24": 1.75,
    "AMPERE_48": 2.50,
    "ADA_48_PLUS": 2.99,
    "AMPERE_80": 4.99,
    "ADA_80_PLUS": 7.49,
    "HOPPER_141": 8.75,
}


class TierPrices:
    def __init__(self, overrides: Mapping[str, float] | None = None) -> None:
        hourly = {**PAY_AS_YOU_GO_USD_PER_HOUR}
        hourly.update({tier.upper(): price for tier, price in (overrides or {}).items()})
        self.usd_per_hour = hourly

    def usd_per_second(self, tier: str | None) -> float | None:
        """None for a tier without a known price."""
        hourly = self.usd_per_hour.get(tier.upper()) if tier else None
        return None if hourly is None else hourly / 3600
