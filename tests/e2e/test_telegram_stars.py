"""Credits for Telegram Stars through real PTB and the fake Bot API: /buy's invoices, the
pre-checkout, the payment credited once however often it comes, and admins' /refund."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from core.ledger import LedgerKind
from core.payments import parse_packs
from tests.e2e.harness import World, world
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.fakes.telegram_e2e import ADMIN_ID, USER_ID, TelegramBot, telegram_bot
from tests.fakes.telegram_objects import JsonDict

PACKS = parse_packs("100:50,500:200")
ADMINS = frozenset({"console:local", f"telegram:{ADMIN_ID}"})
USER = f"telegram:{USER_ID}"
CHAT = USER_ID
"""The user's private chat with the bot."""


@asynccontextmanager
async def stars_world(mongo_uri: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[World]:
    settings: dict[str, Any] = {"credit_packs": PACKS, "admin_ids": ADMINS}
    async with world(mongo_uri, tmp_path, **{**settings, **overrides}) as w:
        yield w


async def said(fake: FakeTelegram, chat: int, start: str, count: int = 1) -> Call:
    """The `count`-th message to `chat` that starts with `start`."""
    return await fake.wait_for_call(
        "sendMessage", lambda c: c.chat_id == chat and (c.text or "").startswith(start), count
    )


def texts(fake: FakeTelegram, chat: int, start: str = "") -> list[str]:
    return [
        c.text or "" for c in fake.sent("sendMessage", chat) if (c.text or "").startswith(start)
    ]


async def buy(tg: TelegramBot, chat: int = CHAT, user: int = USER_ID) -> list[JsonDict]:
    """/buy; the invoice messages it brought, in order."""
    before = len(tg.fake.sent("sendInvoice", chat))
    tg.fake.send_text(chat, user, "/buy")
    await tg.fake.wait_for(lambda: len(tg.fake.sent("sendInvoice", chat)) == before + len(PACKS))
    return [c.result for c in tg.fake.sent("sendInvoice", chat)[before:]]


async def pay(tg: TelegramBot, invoice: JsonDict, user: int = USER_ID) -> str:
    """Pay through pre-checkout and payment; the charge id, once the receipt is sent."""
    paid = await tg.fake.pay(user, invoice)
    assert paid is not None, "the bot declined the payment"
    charge = str(paid["successful_payment"]["telegram_payment_charge_id"])
    await tg.fake.wait_for_call("sendMessage", lambda c: charge in (c.text or ""))
    return charge


def update_of(fake: FakeTelegram, message: JsonDict) -> int:
    return next(i for i, u in fake.update_log.items() if u.get("message") == message)


async def test_buy_shows_one_stars_invoice_per_pack(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        stars_world(mongo_uri, tmp_path, new_user_credits=10.0) as w,
        telegram_bot(w, fake),
    ):
        fake.add_user(USER_ID, "Ann", language_code="es")
        command = fake.send_text(CHAT, USER_ID, "/buy")
        balance = await said(fake, CHAT, "Tienes")
        assert balance.text == "Tienes 10.00 créditos. Paquetes de créditos:"
        assert balance.reply_to == command["message_id"]
        await fake.wait_for(lambda: len(fake.stars.invoices) == 2)

        shown = [(i.title, i.description, i.currency, i.total_amount) for i in fake.stars.invoices]
        assert shown == [
            ("100.00 créditos", "100.00 créditos para ejecutar flujos con este bot.", "XTR", 50),
            ("500.00 créditos", "500.00 créditos para ejecutar flujos con este bot.", "XTR", 200),
        ]
        assert [i.payload for i in fake.stars.invoices] == ["pack:10000:50", "pack:50000:200"]
        assert [i.chat_id for i in fake.stars.invoices] == [CHAT, CHAT]
        prices = [c.params["prices"] for c in fake.sent("sendInvoice", CHAT)]
        assert [[p["amount"] for p in price] for price in prices] == [[50], [200]]
        assert all(c.params.get("provider_token", "") == "" for c in fake.sent("sendInvoice"))


async def test_buy_without_packs_says_so(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        stars_world(mongo_uri, tmp_path, credit_packs=()) as w,
        telegram_bot(w, fake) as tg,
    ):
        fake.send_text(CHAT, USER_ID, "/buy")
        reply = await said(fake, CHAT, "Credits cannot")
        assert reply.text == "Credits cannot be bought here; ask an admin."
        await tg.wait_handled(1)
        assert fake.sent("sendInvoice") == []


async def test_a_payment_credits_exactly_its_pack(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        stars_world(mongo_uri, tmp_path, new_user_credits=10.0) as w,
        telegram_bot(w, fake) as tg,
    ):
        invoices = await buy(tg)
        charge = await pay(tg, invoices[0])

        (query,) = fake.stars.pre_checkouts.values()
        assert query.ok and query.in_time and query.error_message is None
        (receipt,) = texts(fake, CHAT, "Thank you")
        assert receipt == f"Thank you! 100.00 credits added; you have 110.00. Receipt: {charge}"
        accounts = tg.engine.container.accounts
        assert (await accounts.balance(USER)).available == 110_00
        (bought,) = [
            e for e in await accounts.statement(USER, 10) if e.kind is LedgerKind.PURCHASE
        ]
        assert (bought.available, bought.payment_id) == (100_00, f"telegram:{charge}")
        stored = await tg.engine.container.db["payments"].find_one({"_id": f"telegram:{charge}"})
        assert stored is not None
        assert (stored["user"], stored["credits"], stored["amount"], stored["currency"]) == (
            USER,
            100_00,
            50,
            "XTR",
        )
        assert stored["state"] == "credited"

        fake.send_text(CHAT, USER_ID, "/balance")
        card = await said(fake, CHAT, "💰")
        assert card.text is not None and card.text.startswith("💰 You have 110.00 credits.")
        assert "+100.00 bought" in card.text


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
async def test_a_payment_delivered_twice_credits_once(
    mongo_uri: str, tmp_path: Path, webhook: bool
) -> None:
    async with (
        FakeTelegram(push_webhooks=webhook) as fake,
        stars_world(mongo_uri, tmp_path, new_user_credits=0.0) as w,
        telegram_bot(w, fake, webhook=webhook) as tg,
    ):
        invoices = await buy(tg)
        charge = await pay(tg, invoices[1])
        handled = len(tg.chat.handled)
        message = next(m for m in fake.messages.values() if "successful_payment" in m)
        fake.redeliver(update_of(fake, message))  # the same update again: ignored
        fake.repeat_message(message)  # the same payment in a new update, after it
        await tg.wait_handled(handled + 1)
        assert [reply for _, _, reply in tg.chat.handled[handled:]] == [None]  # silent

        fake.send_text(CHAT, USER_ID, "/balance")
        await said(fake, CHAT, "💰")
        assert texts(fake, CHAT, "Thank you") == [
            f"Thank you! 500.00 credits added; you have 500.00. Receipt: {charge}"
        ]
        accounts = tg.engine.container.accounts
        assert (await accounts.balance(USER)).available == 500_00
        entries = await accounts.statement(USER, 10)
        assert [e.kind for e in entries] == [LedgerKind.PURCHASE]


async def test_payments_pass_the_rate_limit(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        stars_world(mongo_uri, tmp_path, new_user_credits=0.0, rate_limit_per_user=1) as w,
        telegram_bot(w, fake) as tg,
    ):
        invoices = await buy(tg)  # the one command this minute
        fake.send_text(CHAT, USER_ID, "/balance")
        await said(fake, CHAT, "Too many commands")
        charge = await pay(tg, invoices[0])
        assert texts(fake, CHAT, "Thank you") == [
            f"Thank you! 100.00 credits added; you have 100.00. Receipt: {charge}"
        ]
        assert (await tg.engine.container.accounts.balance(USER)).available == 100_00


async def test_a_pack_no_longer_on_sale_is_refused(mongo_uri: str, tmp_path: Path) -> None:
    async with FakeTelegram() as fake, stars_world(mongo_uri, tmp_path) as w:
        fake.add_user(USER_ID, "Ann", language_code="ru")
        async with telegram_bot(w, fake) as tg:
            invoices = await buy(tg)
        w.settings = w.settings.model_copy(update={"credit_packs": parse_packs("100:50")})
        async with telegram_bot(w, fake) as tg:
            before = await tg.engine.container.accounts.balance(USER)
            assert await fake.pay(USER_ID, invoices[1]) is None

            (query,) = fake.stars.pre_checkouts.values()
            assert query.ok is False and query.in_time
            assert query.error_message == "Этот пакет больше не продаётся; текущие покажет /buy."
            assert fake.stars.charges == {}
            assert await tg.engine.container.accounts.balance(USER) == before

            await pay(tg, invoices[0])  # the pack still on sale
            assert len(fake.stars.charges) == 1


async def test_refund_takes_the_credits_back_once(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        stars_world(mongo_uri, tmp_path, new_user_credits=0.0) as w,
        telegram_bot(w, fake) as tg,
    ):
        invoices = await buy(tg)
        charge = await pay(tg, invoices[0])
        accounts = tg.engine.container.accounts
        fake.send_text(CHAT, USER_ID, "/txt2img a fox width=32 height=32")  # holds some
        await fake.wait_for_call(
            "sendMessage", lambda c: c.chat_id == CHAT and "⏳" in (c.text or "")
        )
        held = (await accounts.balance(USER)).reserved
        assert 0 < held < 100_00

        fake.send_text(ADMIN_ID, ADMIN_ID, f"/refund {charge}")
        done = await said(fake, ADMIN_ID, "Payment")
        left = 100_00 - held
        assert done.text == (
            f"Payment {charge} refunded; {left // 100}.{left % 100:02d} credits taken back from "
            f"{USER} (not taken, they were spent: {held // 100}.{held % 100:02d})."
        )
        (refund,) = fake.sent("refundStarPayment")
        assert (int(refund.params["user_id"]), refund.params["telegram_payment_charge_id"]) == (
            USER_ID,
            charge,
        )
        assert fake.stars.charges[charge].refunded
        balance = await accounts.balance(USER)
        assert (balance.available, balance.reserved) == (0, held)
        (back,) = [
            e for e in await accounts.statement(USER, 10) if e.kind is LedgerKind.PAYMENT_REFUND
        ]
        assert (back.available, back.shortfall, back.payment_id) == (
            -left,
            held,
            f"telegram:{charge}",
        )
        stored = await tg.engine.container.db["payments"].find_one({"_id": f"telegram:{charge}"})
        assert stored is not None and stored["state"] == "refunded"

        fake.send_text(ADMIN_ID, ADMIN_ID, f"/refund {charge}")
        again = await said(fake, ADMIN_ID, "Payment", count=2)
        assert again.text == f"Payment {charge} was refunded already."
        refunds = [t for t in fake.stars.transactions if "receiver" in t]
        assert len(refunds) == 1 and fake.stars.balance == 0
        assert (await accounts.balance(USER)).available == 0
        kinds = [e.kind for e in await accounts.statement(USER, 10)]
        assert kinds.count(LedgerKind.PAYMENT_REFUND) == 1


async def test_a_refund_telegram_refuses_takes_nothing(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        stars_world(mongo_uri, tmp_path, new_user_credits=0.0) as w,
        telegram_bot(w, fake) as tg,
    ):
        invoices = await buy(tg)
        charge = await pay(tg, invoices[0])
        fake.fail_next("refundStarPayment", code=400, description="Bad Request: USER_ID_INVALID")
        fake.send_text(ADMIN_ID, ADMIN_ID, f"/refund {charge}")
        refused = await said(fake, ADMIN_ID, "The refund")
        assert refused.text == f"The refund of {charge} was refused: USER_ID_INVALID"
        accounts = tg.engine.container.accounts
        assert (await accounts.balance(USER)).available == 100_00
        kinds = [e.kind for e in await accounts.statement(USER, 10)]
        assert LedgerKind.PAYMENT_REFUND not in kinds
        assert not fake.stars.charges[charge].refunded
        stored = await tg.engine.container.db["payments"].find_one({"_id": f"telegram:{charge}"})
        assert stored is not None and stored["state"] == "credited"

        fake.send_text(ADMIN_ID, ADMIN_ID, f"/refund {charge}")  # Telegram takes it this time
        await said(fake, ADMIN_ID, f"Payment {charge} refunded")
        assert fake.stars.charges[charge].refunded
        assert (await accounts.balance(USER)).available == 0
