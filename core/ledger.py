"""A user's account: their credits, what is held for their runs, and the ledger of every change.

Each change of a balance is one `LedgerEntry` with an idempotency key naming its cause (the run,
the payment, the admin's message), so the same cause never applies twice; the sum of a user's
entries is their balance, and it never goes below zero.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from core.workflow import Frozen


class LedgerKind(StrEnum):
    WELCOME = "welcome"
    """NEW_USER_CREDITS, once per user."""
    GRANT = "grant"
    PURCHASE = "purchase"
    RESERVE = "reserve"
    """Held for a run when it was admitted."""
    RELEASE = "release"
    """A hold given back: the run it was for was never recorded."""
    SETTLE = "settle"
    """A run ended: its charge taken from the hold, the rest given back."""
    PAYMENT_REFUND = "payment_refund"
    """A purchase refunded: its credits taken back (down to zero at most)."""
    EXPIRY = "expiry"
    """CREDIT_EXPIRY_DAYS without any entry and nothing held: what was left is gone."""


class LedgerEntry(Frozen):
    key: str
    """The idempotency key: the cause, e.g. `reserve:<run>`, `purchase:telegram:<charge>`."""
    user: str
    kind: LedgerKind
    available: int
    """Change of the spendable balance, in hundredths of a credit."""
    reserved: int = 0
    """Change of the amount held for runs."""
    at: datetime
    run_id: str | None = None
    payment_id: str | None = None
    by: str | None = None
    """Who caused it, when a person did (the admin of a grant)."""
    shortfall: int = 0
    """What could not be taken (a refund larger than the balance, a run longer than its hold)."""


class Balance(Frozen):
    user: str
    available: int = 0
    reserved: int = 0
    active: int = 0
    """Runs admitted and not ended (waiting or running)."""
    running: int = 0
    """Of those, runs holding a running slot."""


class Refusal(StrEnum):
    """Why a run was not admitted."""

    QUEUE_FULL = "queue_full"
    NO_CREDITS = "no_credits"
