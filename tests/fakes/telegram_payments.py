"""Telegram Stars payments: the Bot API methods, and what the paying user does.

https://core.telegram.org/bots/payments-stars: the bot sends an invoice in `XTR` (empty
`provider_token`, exactly one price); the user pays; Telegram sends a `pre_checkout_query`,
which the bot must answer with answerPreCheckoutQuery within 10 seconds; then a message with
`successful_payment`. refundStarPayment gives the Stars back (and Telegram then sends a
`refunded_payment` service message); getStarTransactions lists payments and refunds.

Limits from https://core.telegram.org/bots/api#sendinvoice: title 1-32 characters,
description 1-255, payload 1-128 bytes; max tips are not supported in Stars. Errors are worded
as the Bot API server words them (https://github.com/tdlib/telegram-bot-api, Client.cpp: a
missing parameter is 'parameter "x" is required', a bad user id 'invalid user_id specified',
the labeled-price parser's messages; the first letter of its own messages lower-cased) or,
past it, as Telegram's error codes: refundStarPayment gets CHARGE_ALREADY_REFUNDED
(https://core.telegram.org/method/payments.refundStarsCharge) and CHARGE_NOT_FOUND for a charge
that is not the user's; an invoice that breaks the Stars rules gets STARS_INVOICE_INVALID, a
payload too long INVOICE_PAYLOAD_INVALID, another currency without a provider
PAYMENT_PROVIDER_INVALID. Only a title or description too long and a first button that is not
Pay are worded by the fake.

Test side: `pre_checkout(user_id, invoice)` -> query id, `successful_payment(query_id)` -> the
message, or `await pay(user_id, invoice)` for both; `repeat_message(message)` delivers the same
payment again in a new update (telegram_users).
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from tests.fakes.telegram_calls import ApiError, Call, is_int, truthy
from tests.fakes.telegram_messages import MessageMethods
from tests.fakes.telegram_objects import JsonDict, chat_json, message_json
from tests.fakes.telegram_payments_state import (
    STARS,
    Charge,
    Invoice,
    PreCheckout,
)

QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
PRICE_INVALID = "Bad Request: can't parse labeled price: "


class PaymentMethods(MessageMethods):
    """`_m_{method}` handlers for payments, and the user's side of paying."""

    # -- Bot API methods ----------------------------------------------------------------------

    def _m_sendinvoice(self, call: Call) -> JsonDict:
        invoice = _invoice(call.params)
        markup = call.params.get("reply_markup")
        if isinstance(markup, dict):
            rows = markup.get("inline_keyboard") or [[]]
            if not rows[0] or not rows[0][0].get("pay"):
                raise ApiError(400, "Bad Request: the first button must be a Pay button")
        start = str(call.params.get("start_parameter", "") or "")
        message = self._bot_message(call, invoice=invoice.invoice_json(start))
        invoice.chat_id, invoice.message_id = message["chat"]["id"], message["message_id"]
        self.stars.invoices.append(invoice)
        return message

    def _m_createinvoicelink(self, call: Call) -> str:
        invoice = _invoice(call.params)
        invoice.link = f"https://t.me/$inv{secrets.token_urlsafe(12)}"
        self.stars.invoices.append(invoice)
        return invoice.link

    def _m_answerprecheckoutquery(self, call: Call) -> bool:
        ok = truthy(call.params.get("ok"))
        error_message = call.params.get("error_message")
        if not ok and not error_message:  # checked by the Bot API before it asks Telegram
            raise ApiError(400, required("error_message"))
        query = self.stars.pre_checkouts.get(str(call.params.get("pre_checkout_query_id", "")))
        if query is None or query.answered:
            raise ApiError(400, QUERY_INVALID)
        elapsed = self.clock() - query.sent_at
        query.ok, query.answered_after = ok, elapsed
        query.error_message = None if error_message is None else str(error_message)
        if not query.in_time:
            raise ApiError(400, QUERY_INVALID)
        return True

    def _m_refundstarpayment(self, call: Call) -> bool:
        user_id = str(call.params.get("user_id", ""))
        charge_id = str(call.params.get("telegram_payment_charge_id", "") or "")
        if not is_int(user_id) or int(user_id) <= 0:
            raise ApiError(400, "Bad Request: invalid user_id specified")
        if not charge_id:
            raise ApiError(400, required("telegram_payment_charge_id"))
        charge = self.stars.charges.get(charge_id)
        if charge is None or charge.user["id"] != int(user_id):
            raise ApiError(400, "Bad Request: CHARGE_NOT_FOUND")
        if charge.refunded:
            raise ApiError(400, "Bad Request: CHARGE_ALREADY_REFUNDED")
        charge.refunded = True
        self.stars.transactions.append(charge.transaction_json(incoming=False))
        self._payment_message(charge, refunded_payment=charge.refund_json())
        return True

    def _m_getstartransactions(self, call: Call) -> JsonDict:
        offset = int(call.params.get("offset", 0) or 0)
        limit = int(call.params.get("limit", 100) or 100)
        if not 1 <= limit <= 100:
            raise ApiError(400, "Bad Request: limit must be between 1 and 100")
        return {"transactions": self.stars.transactions[offset : offset + limit]}

    def _m_getmystarbalance(self, call: Call) -> JsonDict:
        return {"amount": self.stars.balance}

    # -- what the paying user does ----------------------------------------------------------

    def pre_checkout(self, user_id: int, invoice: JsonDict | str) -> str:
        """The user confirmed paying `invoice` (the sendInvoice message, or a link): Telegram
        sends the bot a pre_checkout_query. Returns its id; see `stars.pre_checkouts[id]`."""
        query = PreCheckout(
            id=secrets.token_hex(8),
            user=self.user(user_id),
            invoice=self.stars.find_invoice(invoice),
            sent_at=self.clock(),
        )
        self.stars.pre_checkouts[query.id] = query
        self.push_update({"pre_checkout_query": query.query_json()})
        return query.id

    def successful_payment(self, query_id: str) -> JsonDict:
        """Telegram charged the user (only after an `ok` answer in time): the message with
        `successful_payment` the bot then receives. Returns that message."""
        query = self.stars.pre_checkouts[query_id]
        assert query.ok and query.in_time, f"pre-checkout {query_id} was not accepted in time"
        charge = self.stars.charge(query)
        return self._payment_message(charge, successful_payment=charge.payment_json())

    async def pay(
        self, user_id: int, invoice: JsonDict | str, within: float = 10.0
    ) -> JsonDict | None:
        """The whole purchase: pre-checkout, the bot's answer, then the payment message.
        None when the bot declined, or did not answer in time (or within `within` seconds of
        real time: Telegram waits 10)."""
        query_id = self.pre_checkout(user_id, invoice)
        query = self.stars.pre_checkouts[query_id]
        try:
            async with asyncio.timeout(within), self._changed:
                await self._changed.wait_for(lambda: query.answered)
        except TimeoutError:
            return None
        return self.successful_payment(query_id) if query.in_time and query.ok else None

    def _payment_message(self, charge: Charge, **content: Any) -> JsonDict:
        """The service message in the chat of the invoice (the user's chat for a link)."""
        chat_id = charge.invoice.chat_id or charge.user["id"]
        chat = chat_json(chat_id, charge.user)
        message = message_json(self._next_message_id(chat_id), chat, charge.user, **content)
        self.messages[(chat_id, message["message_id"])] = message
        self.push_update({"message": message})
        return message


def _invoice(params: JsonDict) -> Invoice:
    """The invoice sendInvoice/createInvoiceLink describe, checked in the Bot API's order: its
    required parameters and the prices first, then what Telegram checks."""
    title, description, payload, currency = (
        str(params.get(name, "") or "") for name in ("title", "description", "payload", "currency")
    )
    for name, value in (("title", title), ("description", description), ("payload", payload)):
        if not value:
            raise ApiError(400, required(name))
    if not currency:
        raise ApiError(400, required("currency"))
    prices = params.get("prices")
    if prices is None or prices == "":
        raise ApiError(400, required("prices"))
    amounts = _amounts(prices)
    provider_token = str(params.get("provider_token", "") or "")
    if len(title) > 32:
        raise ApiError(400, "Bad Request: invoice title must be 1-32 characters")
    if len(description) > 255:
        raise ApiError(400, "Bad Request: invoice description must be 1-255 characters")
    if len(payload.encode()) > 128:
        raise ApiError(400, "Bad Request: INVOICE_PAYLOAD_INVALID")
    if currency == STARS:
        tips = int(params.get("max_tip_amount", 0) or 0)
        if provider_token or len(amounts) != 1 or amounts[0] <= 0 or tips:
            raise ApiError(400, "Bad Request: STARS_INVOICE_INVALID")
    elif not provider_token:
        raise ApiError(400, "Bad Request: PAYMENT_PROVIDER_INVALID")
    return Invoice(title, description, payload, currency, sum(amounts))


def _amounts(prices: object) -> list[int]:
    """The amounts of `prices` (a JSON array of LabeledPrice), as the Bot API parses them."""
    if not isinstance(prices, list):
        raise ApiError(400, "Bad Request: expected an Array of labeled prices")
    amounts = []
    for price in prices:
        if not isinstance(price, dict):
            raise ApiError(400, f"{PRICE_INVALID}LabeledPrice must be an Object")
        if "label" not in price:
            raise ApiError(400, f'{PRICE_INVALID}Can\'t find field "label"')
        if not price["label"]:
            raise ApiError(400, f"{PRICE_INVALID}LabeledPrice label must be non-empty")
        amount = price.get("amount")
        if amount is None:
            raise ApiError(400, f'{PRICE_INVALID}Can\'t find field "amount"')
        if (
            isinstance(amount, bool)
            or not isinstance(amount, int | str)
            or not is_int(str(amount))
        ):
            raise ApiError(400, f'{PRICE_INVALID}Field "amount" must be a Number')
        amounts.append(int(amount))
    if not amounts:
        raise ApiError(400, "Bad Request: there must be at least one price")
    return amounts


def required(name: str) -> str:
    """The Bot API's answer to a missing (or empty) parameter."""
    return f'Bad Request: parameter "{name}" is required'
