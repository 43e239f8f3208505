"""What the fake remembers of Telegram Stars payments: invoices, pre-checkout queries, charges.

Objects as the Bot API defines them (https://core.telegram.org/bots/api#payments):
PreCheckoutQuery, SuccessfulPayment, RefundedPayment, StarTransaction with a
TransactionPartnerUser. The flow is https://core.telegram.org/bots/payments-stars.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from tests.fakes.telegram_objects import JsonDict, now_seconds

STARS = "XTR"
PRE_CHECKOUT_DEADLINE = 10.0
"""answerPreCheckoutQuery: "the Bot API must receive an answer within 10 seconds"."""


@dataclass
class Invoice:
    """A sent invoice (`chat_id`, `message_id`) or an invoice link (`link`)."""

    title: str
    description: str
    payload: str
    currency: str
    total_amount: int
    chat_id: int | None = None
    message_id: int | None = None
    link: str | None = None

    def invoice_json(self, start_parameter: str = "") -> JsonDict:
        """The `invoice` field of the invoice message (Bot API type Invoice)."""
        return {
            "title": self.title,
            "description": self.description,
            "start_parameter": start_parameter,
            "currency": self.currency,
            "total_amount": self.total_amount,
        }


@dataclass
class PreCheckout:
    """A pre_checkout_query sent to the bot, and how (and how fast) the bot answered."""

    id: str
    user: JsonDict
    invoice: Invoice
    sent_at: float
    ok: bool | None = None
    error_message: str | None = None
    answered_after: float | None = None
    """Seconds on the fake's clock between the update and the answer."""

    @property
    def answered(self) -> bool:
        return self.ok is not None

    @property
    def in_time(self) -> bool:
        return self.answered_after is not None and self.answered_after <= PRE_CHECKOUT_DEADLINE

    def query_json(self) -> JsonDict:
        return {
            "id": self.id,
            "from": self.user,
            "currency": self.invoice.currency,
            "total_amount": self.invoice.total_amount,
            "invoice_payload": self.invoice.payload,
        }


@dataclass
class Charge:
    """A successful payment; `telegram_payment_charge_id` is `id`."""

    id: str
    provider_id: str
    user: JsonDict
    invoice: Invoice
    refunded: bool = False

    def payment_json(self) -> JsonDict:
        """SuccessfulPayment."""
        return {
            "currency": self.invoice.currency,
            "total_amount": self.invoice.total_amount,
            "invoice_payload": self.invoice.payload,
            "telegram_payment_charge_id": self.id,
            "provider_payment_charge_id": self.provider_id,
        }

    def refund_json(self) -> JsonDict:
        """RefundedPayment."""
        return {
            "currency": self.invoice.currency,
            "total_amount": self.invoice.total_amount,
            "invoice_payload": self.invoice.payload,
            "telegram_payment_charge_id": self.id,
        }

    def transaction_json(self, incoming: bool) -> JsonDict:
        """StarTransaction: the payment (source: the user) or its refund (receiver: the user).
        A refund's id "coincides with the identifier of the original transaction"."""
        partner = {
            "type": "user",
            "transaction_type": "invoice_payment",
            "user": self.user,
            "invoice_payload": self.invoice.payload,
        }
        side = "source" if incoming else "receiver"
        return {
            "id": self.id,
            "amount": self.invoice.total_amount,
            "date": now_seconds(),
            side: partner,
        }


@dataclass
class StarLedger:
    invoices: list[Invoice] = field(default_factory=list)
    pre_checkouts: dict[str, PreCheckout] = field(default_factory=dict)
    charges: dict[str, Charge] = field(default_factory=dict)
    transactions: list[JsonDict] = field(default_factory=list)
    """StarTransaction objects, oldest first, as getStarTransactions returns them."""

    @property
    def balance(self) -> int:
        """Stars the bot holds: payments in Stars minus their refunds."""
        paid = (c for c in self.charges.values() if c.invoice.currency == STARS)
        return sum(c.invoice.total_amount for c in paid if not c.refunded)

    def find_invoice(self, ref: JsonDict | str) -> Invoice:
        """The invoice behind an invoice message (as sendInvoice returned it) or a link."""
        for invoice in self.invoices:
            if isinstance(ref, str) and invoice.link == ref:
                return invoice
            if isinstance(ref, dict) and (invoice.chat_id, invoice.message_id) == (
                ref["chat"]["id"],
                ref["message_id"],
            ):
                return invoice
        raise KeyError(f"no such invoice: {ref!r}")

    def charge(self, query: PreCheckout) -> Charge:
        charge = Charge(
            id=f"stxT{secrets.token_urlsafe(24)}",
            provider_id=f"{query.user['id']}_{secrets.randbelow(10**9)}",
            user=query.user,
            invoice=query.invoice,
        )
        self.charges[charge.id] = charge
        self.transactions.append(charge.transaction_json(incoming=True))
        return charge
