"""The Telegram side of Stars payments against the fake Bot API with a real PTB Bot: a
pre-checkout is answered even when the core fails or is too slow; refunds as Telegram says."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
from telegram import Bot, LabeledPrice, Update

from adapters.telegram.checkout import CheckoutHandlers, Context
from adapters.telegram.stars import ATTEMPTS, PAUSE_S, TelegramPaymentGateway
from adapters.telegram.wording import SYNTAX
from core.chat.content import Content
from core.chat.service import ChatService
from core.chat.text_render import TextRenderer
from core.models import ChatRef
from core.payments import Payment, RefundRefused
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_kit import bot_on

USER = 7


class Broken:
    """A chat layer that fails, or never answers."""

    def __init__(self, hang: bool = False) -> None:
        self._hang = hang

    async def execute(self, operation: object, chat: ChatRef) -> Content:
        if self._hang:
            await asyncio.Event().wait()
        raise RuntimeError("the database is down")


async def nothing(bot: Bot, chat: ChatRef, content: Content) -> None:
    raise AssertionError("a pre-checkout sends no message")


async def checkout_through(fake: FakeTelegram, bot: Bot, handlers: CheckoutHandlers) -> str:
    """A pre-checkout query for a fresh invoice, handed to `handlers`; its id."""
    message = await bot.send_invoice(
        USER, "50 credits", "Credits", "pack:5000:50", "XTR", [LabeledPrice("50 credits", 50)]
    )
    query_id = fake.pre_checkout(USER, message.to_dict())
    (update,) = await bot.get_updates(timeout=5)
    assert isinstance(update, Update)
    await handlers.on_pre_checkout(update, cast(Context, SimpleNamespace(bot=bot)))
    return query_id


@pytest.mark.parametrize("hang", [False, True], ids=["fails", "too_slow"])
async def test_a_pre_checkout_is_answered_whatever_happens(hang: bool) -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        fake.add_user(USER, "Ann", language_code="en")
        chat = cast(ChatService, Broken(hang))
        budget: dict[str, Any] = {"check_budget_s": 0} if hang else {}
        handlers = CheckoutHandlers(chat, TextRenderer(SYNTAX), nothing, **budget)
        query = fake.stars.pre_checkouts[await checkout_through(fake, bot, handlers)]
        assert query.ok is False and query.in_time
        assert re.fullmatch(
            r"Sorry, something went wrong on my side \(ref [0-9a-f]{8}\)\.",
            query.error_message or "",
        )


def payment(charge_id: str, user: str = f"telegram:{USER}") -> Payment:
    return Payment(
        id=f"telegram:{charge_id}",
        platform="telegram",
        charge_id=charge_id,
        user=user,
        credits=50_00,
        amount=50,
        currency="XTR",
        at=datetime.now(UTC),
    )


async def paid_charge(fake: FakeTelegram, bot: Bot) -> str:
    """A Stars payment made by USER; its charge id."""
    message = await bot.send_invoice(
        USER, "50 credits", "Credits", "pack:5000:50", "XTR", [LabeledPrice("50", 50)]
    )
    query_id = fake.pre_checkout(USER, message.to_dict())
    await bot.answer_pre_checkout_query(query_id, ok=True)
    return str(
        fake.successful_payment(query_id)["successful_payment"]["telegram_payment_charge_id"]
    )


async def test_refunds_in_telegrams_words() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        charge_id = await paid_charge(fake, bot)
        gateway = TelegramPaymentGateway(bot)

        with pytest.raises(RefundRefused, match=r"^CHARGE_NOT_FOUND$"):  # another user's
            await gateway.refund(payment(charge_id, user=f"telegram:{USER + 1}"))
        await gateway.refund(payment(charge_id))
        await gateway.refund(payment(charge_id))  # CHARGE_ALREADY_REFUNDED: done already
        assert [c.ok for c in fake.calls if c.method == "refundStarPayment"] == [
            False,
            True,
            False,
        ]
        assert fake.stars.charges[charge_id].refunded and fake.stars.balance == 0
        refunds = [t for t in fake.stars.transactions if "receiver" in t]
        assert len(refunds) == 1


async def test_a_refund_is_tried_again_after_a_flood_wait_or_a_5xx() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        first, second = await paid_charge(fake, bot), await paid_charge(fake, bot)
        waits: list[float] = []

        async def sleep(seconds: float) -> None:  # the fake clock: nothing really waits
            waits.append(seconds)

        gateway = TelegramPaymentGateway(bot, sleep)
        fake.fail_next("refundStarPayment", retry_after=3)
        fake.fail_next("refundStarPayment", code=502, description="Bad Gateway")
        await gateway.refund(payment(first))
        assert waits == [3.0, PAUSE_S] and fake.stars.charges[first].refunded

        fake.fail_next("refundStarPayment", times=ATTEMPTS, code=500, description="Internal")
        with pytest.raises(RefundRefused, match="Internal"):
            await gateway.refund(payment(second))
        fake.fail_next("refundStarPayment", retry_after=3600)  # longer than an admin waits
        with pytest.raises(RefundRefused, match="Flood control exceeded"):
            await gateway.refund(payment(second))
        fake.fail_next("refundStarPayment", description="Bad Request: USER_ID_INVALID", code=400)
        with pytest.raises(RefundRefused, match=r"^USER_ID_INVALID$"):  # final: not repeated
            await gateway.refund(payment(second))
        assert len(waits) == 2 + (ATTEMPTS - 1)
        assert not fake.stars.charges[second].refunded
