"""Telegram Stars through the fake, with a real PTB Bot: invoice, pre-checkout, payment, refund."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest
from telegram import Bot, LabeledPrice, Update
from telegram.error import BadRequest

from tests.fakes.telegram_api import FakeTelegram, ManualClock
from tests.fakes.telegram_kit import bot_on
from tests.fakes.telegram_payments import QUERY_INVALID

USER = 7
LABEL = "can't parse labeled price: "


async def send_invoice(bot: Bot, chat_id: int = USER, stars: int = 50) -> dict[str, object]:
    message = await bot.send_invoice(
        chat_id,
        title="50 credits",
        description="Credits for image runs",
        payload="order-1",
        currency="XTR",
        prices=[LabeledPrice("Credits", stars)],
        provider_token="",
    )
    return message.to_dict()


async def refusal(fake: FakeTelegram, request: Awaitable[object]) -> str:
    """The description of the 400 the request must get, as Telegram wrote it."""
    with pytest.raises(BadRequest):
        await request
    error = fake.calls[-1].error
    assert error is not None
    return str(error["description"])


async def next_update(bot: Bot, offset: int = 0) -> Update:
    (update,) = await bot.get_updates(offset=offset, timeout=5)
    return update


async def test_an_invoice_in_stars() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        sent = await bot.send_invoice(
            USER, "50 credits", "Credits", "order-1", "XTR", [LabeledPrice("Credits", 50)]
        )
        assert sent.invoice is not None
        assert (sent.invoice.currency, sent.invoice.total_amount) == ("XTR", 50)
        assert sent.invoice.title == "50 credits"
        assert fake.stars.invoices[0].payload == "order-1"

        link = await bot.create_invoice_link(
            "10 credits", "Credits", "order-2", "XTR", [LabeledPrice("Credits", 10)]
        )
        assert link.startswith("https://t.me/$")

        bad: list[tuple[dict[str, Any], str]] = [
            ({"prices": [LabeledPrice("A", 10), LabeledPrice("B", 5)]}, "STARS_INVOICE_INVALID"),
            ({"provider_token": "284685063:TEST:abc"}, "STARS_INVOICE_INVALID"),
            ({"prices": []}, "there must be at least one price"),
            (
                {"prices": [{"label": "", "amount": 5}]},
                f"{LABEL}LabeledPrice label must be non-empty",
            ),
            ({"prices": [{"label": "A"}]}, f'{LABEL}Can\'t find field "amount"'),
            ({"title": "x" * 33}, "invoice title must be 1-32 characters"),
            ({"payload": ""}, 'parameter "payload" is required'),
            ({"payload": "p" * 129}, "INVOICE_PAYLOAD_INVALID"),
            ({"currency": "EUR"}, "PAYMENT_PROVIDER_INVALID"),  # others need a provider token
        ]
        for change, description in bad:
            args: dict[str, Any] = {
                "title": "t",
                "description": "d",
                "payload": "p",
                "currency": "XTR",
                "prices": [LabeledPrice("A", 10)],
                **change,
            }
            refused = await refusal(fake, bot.send_invoice(USER, **args))
            assert refused == f"Bad Request: {description}", change
        assert len(fake.stars.invoices) == 2


async def test_pre_checkout_then_payment_delivered_twice() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        fake.add_user(USER, "Ann", username="ann", language_code="de")
        invoice = await send_invoice(bot)
        query_id = fake.pre_checkout(USER, invoice)

        update = await next_update(bot)
        query = update.pre_checkout_query
        assert query is not None and query.id == query_id
        assert (query.from_user.id, query.from_user.language_code) == (USER, "de")
        assert (query.currency, query.total_amount, query.invoice_payload) == (
            "XTR",
            50,
            "order-1",
        )
        assert await bot.answer_pre_checkout_query(query.id, ok=True)
        answer = fake.stars.pre_checkouts[query_id]
        assert answer.ok and answer.in_time and answer.error_message is None
        answer_again = bot.answer_pre_checkout_query(query.id, ok=True)
        assert await refusal(fake, answer_again) == QUERY_INVALID  # only once

        message = fake.successful_payment(query_id)
        first = await next_update(bot, update.update_id + 1)
        fake.repeat_message(message)
        second = await next_update(bot, first.update_id + 1)
        assert second.update_id > first.update_id
        assert first.message is not None and second.message is not None
        paid, again = first.message.successful_payment, second.message.successful_payment
        assert paid is not None and again is not None
        assert paid.telegram_payment_charge_id == again.telegram_payment_charge_id
        assert (paid.currency, paid.total_amount, paid.invoice_payload) == ("XTR", 50, "order-1")
        assert paid.provider_payment_charge_id
        assert first.message.chat.id == USER and first.message.from_user is not None
        assert first.message.from_user.username == "ann"
        assert list(fake.stars.charges) == [paid.telegram_payment_charge_id]


async def test_a_declined_or_late_answer_charges_nobody() -> None:
    clock = ManualClock()
    async with FakeTelegram(clock=clock) as fake, bot_on(fake) as bot:
        invoice = await send_invoice(bot)
        declined = fake.pre_checkout(USER, invoice)
        no_reason = bot.answer_pre_checkout_query(declined, ok=False)
        assert (
            await refusal(fake, no_reason) == 'Bad Request: parameter "error_message" is required'
        )
        await bot.answer_pre_checkout_query(declined, ok=False, error_message="Sold out")
        assert fake.stars.pre_checkouts[declined].error_message == "Sold out"
        with pytest.raises(AssertionError):
            fake.successful_payment(declined)

        late = fake.pre_checkout(USER, invoice)
        clock.advance(10.5)
        assert await refusal(fake, bot.answer_pre_checkout_query(late, ok=True)) == QUERY_INVALID
        query = fake.stars.pre_checkouts[late]
        assert query.ok and query.answered_after == 10.5 and not query.in_time
        assert fake.stars.charges == {}


async def test_pay_runs_the_whole_purchase_against_a_polling_bot() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        link = await bot.create_invoice_link(
            "10 credits", "Credits", "order-2", "XTR", [LabeledPrice("Credits", 10)]
        )

        async def answer_it() -> None:
            update = await next_update(bot)
            assert update.pre_checkout_query is not None
            await update.pre_checkout_query.answer(ok=True)

        answering = asyncio.create_task(answer_it())
        message = await fake.pay(USER, link)
        await answering
        assert message is not None and message["chat"]["id"] == USER
        assert message["successful_payment"]["invoice_payload"] == "order-2"


async def test_refunds_once_and_lists_transactions() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        query_id = fake.pre_checkout(USER, await send_invoice(bot, stars=30))
        await bot.answer_pre_checkout_query(query_id, ok=True)
        charge_id = fake.successful_payment(query_id)["successful_payment"][
            "telegram_payment_charge_id"
        ]
        assert (await bot.get_my_star_balance()).amount == 30

        refund = bot.refund_star_payment
        not_found = "Bad Request: CHARGE_NOT_FOUND"
        assert await refusal(fake, refund(USER + 1, charge_id)) == not_found  # someone else's
        assert await refusal(fake, refund(USER, "stxNoSuchCharge")) == not_found
        missing = 'Bad Request: parameter "telegram_payment_charge_id" is required'
        assert await refusal(fake, refund(USER, "")) == missing
        assert (
            await refusal(fake, refund(0, charge_id)) == "Bad Request: invalid user_id specified"
        )
        assert await refund(USER, charge_id) is True
        assert (
            await refusal(fake, refund(USER, charge_id)) == "Bad Request: CHARGE_ALREADY_REFUNDED"
        )
        assert (await bot.get_my_star_balance()).amount == 0

        updates = await bot.get_updates(timeout=0)
        refunds = [u.message.refunded_payment for u in updates if u.message]
        assert [r.telegram_payment_charge_id for r in refunds if r] == [charge_id]

        listed = (await bot.get_star_transactions()).transactions
        assert [t.id for t in listed] == [charge_id, charge_id]
        assert [t.amount for t in listed] == [30, 30]
        assert listed[0].source is not None and listed[0].receiver is None
        assert listed[1].receiver is not None and listed[1].source is None
        assert len((await bot.get_star_transactions(offset=1, limit=5)).transactions) == 1
