"""Paying for an invoice in Telegram Stars (https://core.telegram.org/bots/payments-stars).

The user confirms; Telegram sends a pre_checkout_query, which "the Bot API must receive an
answer within 10 seconds" (https://core.telegram.org/bots/api#answerprecheckoutquery); once
the bot said yes, the user is charged and the bot gets a message with `successful_payment`
(https://core.telegram.org/bots/api#successfulpayment). Should that message come twice (the
same update again, or in a new one), the core credits the payment once, by its
`telegram_payment_charge_id`, and says nothing the second time.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from adapters.telegram.chat_refs import PLATFORM, chat_ref, private_ref
from core.chat.content import Content, Message, PurchaseVerdict
from core.chat.operations import CheckPurchase, CompletePurchase
from core.chat.service import ChatService
from core.chat.text_render import TextRenderer
from core.models import ChatRef
from core.notices import Cmd

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
Reply = Callable[[Bot, ChatRef, Content], Awaitable[None]]
CHECK_BUDGET_S = 7.0
"""How long the core may take to judge a payment: the answer must reach Telegram within 10 s."""


class CheckoutHandlers:
    def __init__(
        self,
        chat: ChatService,
        words: TextRenderer,
        reply: Reply,
        check_budget_s: float = CHECK_BUDGET_S,
    ) -> None:
        self._chat = chat
        self._words = words
        self._reply = reply
        self._budget_s = check_budget_s

    async def on_pre_checkout(self, update: Update, context: Context) -> None:
        """Always answered: yes, or no with the reason in the payer's language (an error or a
        core too slow to answer in time is a no with a reference to the log)."""
        query = update.pre_checkout_query
        if query is None:
            return
        ref = private_ref(query.from_user)
        words = self._words.for_chat(ref)
        check = CheckPurchase(query.invoice_payload, query.total_amount, query.currency)
        try:
            async with asyncio.timeout(self._budget_s):
                content = await self._chat.execute(check, ref)
            reason = _refusal(content, words)
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("pre-checkout of %s failed (ref %s)", ref.user_key, reference)
            reason = words.text("failure", reference=reference)
        try:
            await query.answer(ok=reason is None, error_message=reason)
        except TelegramError as error:
            log.warning("could not answer a pre-checkout query: %s", error.message)

    async def on_successful_payment(self, update: Update, context: Context) -> None:
        """Credit the payment; the receipt is sent once, however often Telegram reports it."""
        message = update.message
        paid = message.successful_payment if message is not None else None
        if message is None or paid is None or message.from_user is None:
            return
        ref = chat_ref(message, message.from_user)
        purchase = CompletePurchase(
            payment_id=f"{PLATFORM}:{paid.telegram_payment_charge_id}",
            payload=paid.invoice_payload,
            amount=paid.total_amount,
            currency=paid.currency,
        )
        content = await self._chat.execute(purchase, ref)
        if isinstance(content, Message):  # not for `Silent`: a payment reported again
            await self._reply(context.bot, ref, content)


def _refusal(content: Content, words: TextRenderer) -> str | None:
    """None when the payment may go ahead, else why not, as the payer reads it."""
    if isinstance(content, PurchaseVerdict):
        if content.ok:
            return None
        return (
            words.notice(content.reason)
            if content.reason
            else words.text("purchase_unavailable", buy=Cmd("buy"))
        )
    if isinstance(content, Message):  # banned, or the core failed: it says which
        return words.notice(content.notice)
    raise TypeError(f"not an answer to a pre-checkout: {type(content).__name__}")
