"""`/buy` on Telegram: the asker's balance, then one Telegram Stars invoice per credit pack.

https://core.telegram.org/bots/payments-stars: an invoice in Stars has the currency `XTR`, an
empty provider token and exactly one price, in whole Stars. sendInvoice
(https://core.telegram.org/bots/api#sendinvoice) takes a title of 1-32 characters, a
description of 1-255 and a payload of 1-128 bytes, which Telegram hands back unchanged in the
pre_checkout_query and the successful_payment; the pack's payload says what was bought.
"""

from __future__ import annotations

from telegram import Bot, LabeledPrice

from adapters.telegram.chat_refs import send_target
from adapters.telegram.limits import INVOICE_DESCRIPTION_MAX, INVOICE_TITLE_MAX, fit_text
from core.chat.content import CreditOffer
from core.chat.text_render import TextRenderer
from core.credits import format_credits
from core.models import ChatRef
from core.payments import CreditPack


async def send_offer(bot: Bot, chat: ChatRef, offer: CreditOffer, words: TextRenderer) -> None:
    """A line with the balance answering the command, then the invoices under it (each with
    Telegram's own Pay button)."""
    balance = words.text("buy.title", balance=format_credits(offer.balance))
    await bot.send_message(text=balance, **send_target(chat))
    for pack in offer.packs:
        await send_invoice(bot, chat, pack, words)


async def send_invoice(bot: Bot, chat: ChatRef, pack: CreditPack, words: TextRenderer) -> None:
    credits = format_credits(pack.credits)
    title = fit_text(words.text("invoice.title", credits=credits), INVOICE_TITLE_MAX)
    description = words.text("invoice.description", credits=credits)
    await bot.send_invoice(
        title=title,
        description=fit_text(description, INVOICE_DESCRIPTION_MAX),
        payload=pack.payload,
        currency=pack.currency,
        prices=[LabeledPrice(title, pack.price)],
        provider_token="",
        **send_target(chat, reply=False),
    )
