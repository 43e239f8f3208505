"""Credits left unused expire: with CREDIT_EXPIRY_DAYS set, an account with no ledger entry for
that many days (no run, grant, purchase or refund) and nothing held for a run loses what is
left, in one `expiry` ledger entry keyed by that idle stretch, so it applies once. A periodic
job (hourly, in the process holding the sweeps) does it; 0 days, the default, never expires."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from core.ports import Clock

BATCH = 500
"""Accounts looked at per round; rounds go on while a round fills up."""


class IdleAccounts(Protocol):
    async def expire_idle(self, idle_since: datetime, now: datetime, limit: int) -> int:
        """Empty up to `limit` accounts idle since before `idle_since` and holding nothing;
        how many were emptied."""
        ...


class CreditExpiry:
    def __init__(self, accounts: IdleAccounts, days: float, clock: Clock) -> None:
        self._accounts = accounts
        self._idle = timedelta(days=days)
        self._clock = clock

    async def expire(self) -> int:
        """Expire the balances idle for too long now; how many accounts were emptied."""
        if not self._idle:
            return 0
        total = 0
        while True:
            now = self._clock.now()
            expired = await self._accounts.expire_idle(now - self._idle, now, BATCH)
            total += expired
            if expired < BATCH:
                return total
