"""Credits bought with a platform's payments (Telegram Stars): the packs on sale, each payment as
recorded, and the ports a platform implements to take and refund them.

An invoice carries its pack in its payload (`pack:<credits in hundredths>:<price>`), so the
payment that comes back says what was bought even if the packs on sale changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.credits import CENTS
from core.workflow import Frozen

STARS = "XTR"
"""Telegram Stars' currency code (https://core.telegram.org/bots/payments-stars)."""


@dataclass(frozen=True)
class CreditPack:
    credits: int
    """Hundredths of a credit."""
    price: int
    """In the platform's smallest unit: whole Stars."""
    currency: str = STARS

    @property
    def payload(self) -> str:
        return f"pack:{self.credits}:{self.price}"

    @classmethod
    def from_payload(cls, payload: str, currency: str) -> CreditPack | None:
        kind, _, rest = payload.partition(":")
        credits, _, price = rest.partition(":")
        if kind != "pack" or not credits.isdigit() or not price.isdigit():
            return None
        pack = cls(int(credits), int(price), currency)
        return pack if pack.credits > 0 and pack.price > 0 else None


def parse_packs(text: str) -> tuple[CreditPack, ...]:
    """CREDIT_PACKS: `credits:stars` pairs, comma-separated, e.g. `100:50,500:200`."""
    packs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        credits, colon, price = item.partition(":")
        if not colon or not credits.isdigit() or not price.isdigit():
            raise ValueError(f"'{item}' is not credits:stars (e.g. 100:50)")
        if int(credits) <= 0 or int(price) <= 0:
            raise ValueError(f"'{item}': credits and stars must be above zero")
        packs.append(CreditPack(int(credits) * CENTS, int(price)))
    return tuple(packs)


def offered(packs: Iterable[CreditPack], payload: str, amount: int, currency: str) -> bool:
    """Whether a payment is for a pack on sale, at its price."""
    wanted = CreditPack.from_payload(payload, currency)
    return wanted is not None and wanted.price == amount and wanted in set(packs)


class PaymentState(StrEnum):
    CREDITED = "credited"
    REFUNDED = "refunded"


class Payment(Frozen):
    id: str
    """`<platform>:<charge id>`."""
    platform: str
    charge_id: str
    user: str
    credits: int
    amount: int
    currency: str
    state: PaymentState = PaymentState.CREDITED
    at: datetime


class PaymentStore(Protocol):
    async def record(self, payment: Payment) -> None:
        """Keep the payment (nothing changes if it is known already)."""
        ...

    async def find(self, charge_id: str) -> Payment | None:
        """A payment by the platform's charge id (with or without its `platform:` prefix)."""
        ...

    async def mark_refunded(self, payment_id: str, now: datetime) -> bool: ...


class RefundRefused(Exception):
    """The platform would not refund the payment (its words, for the admin)."""


class PaymentGateway(Protocol):
    """A platform's side of payments."""

    async def refund(self, payment: Payment) -> None:
        """Give the payment back to its payer; raises RefundRefused. Refunding one already
        refunded is no error."""
        ...
