"""Leases: work only one process may do at a time, held through the database.

A lease has a name (`sweeps`, `telegram:polling`, ...), an owner (a process's identity) and an
expiry. Its holder renews it while alive and gives it up when it stops; a holder that dies is
replaced once its lease has run out. Each time the lease changes hands its `token` grows by
one: a fencing token (https://martin.kleppmann.com/2016/02/08/how-to-do-distributed-locking.html)
that renewals and the release must name, so a holder that lost the lease cannot extend it.

The timing is derived from one setting, `LEADER_LEASE_SECONDS` (L): a grant is good for 3/4 L;
the holder renews every L/4 and stops trusting its grant L/8 before it runs out (so clocks may
differ, and a renewal may be late, by that much); the others try to take it every L/8 (at most
every second). A holder that dies is replaced within 3/4 L + L/8 < L; one that stops and
releases its lease, within L/8 (a second at most).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_LEASE_SECONDS = 15.0
MAX_RETRY_S = 1.0


@dataclass(frozen=True)
class LeaseGrant:
    """The lease `name` held by `owner` until `until`, in the term numbered `token`."""

    name: str
    owner: str
    token: int
    until: datetime


@dataclass(frozen=True)
class LeaseTiming:
    seconds: float = DEFAULT_LEASE_SECONDS
    """L: a holder that dies is replaced within this."""

    @property
    def term(self) -> timedelta:
        """How long a grant or a renewal is good for in the store."""
        return timedelta(seconds=self.seconds * 3 / 4)

    @property
    def margin(self) -> timedelta:
        """A holder stops trusting its grant this long before the store would let another
        take it."""
        return timedelta(seconds=self.seconds / 8)

    @property
    def renew_every_s(self) -> float:
        return self.seconds / 4

    @property
    def retry_every_s(self) -> float:
        """How often a process that does not hold the lease tries to take it."""
        return min(self.seconds / 8, MAX_RETRY_S)

    def trusted_until(self, grant: LeaseGrant) -> datetime:
        return grant.until - self.margin
