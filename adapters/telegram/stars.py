"""Refunds of Telegram Stars payments: core.payments.PaymentGateway on refundStarPayment.

https://core.telegram.org/bots/api#refundstarpayment takes the paying user's id and the
payment's `telegram_payment_charge_id`. A charge refunded before (by an earlier /refund whose
answer was lost, or one that stopped before the credits were taken back) is answered
CHARGE_ALREADY_REFUNDED (https://core.telegram.org/method/payments.refundStarsCharge): the
Stars are back with the user, which is what was asked, so it counts as done. That also makes
the call safe to repeat: a timeout, a 5xx or a 429 (after its `retry_after`,
https://core.telegram.org/bots/api#responseparameters) gets another attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from telegram import Bot
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from adapters.telegram.errors import retry_seconds
from core.payments import Payment, RefundRefused

log = logging.getLogger(__name__)

ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"
ATTEMPTS = 3
PAUSE_S = 1.0
"""Between attempts after a timeout or a 5xx."""
MAX_WAIT_S = 10.0
"""The longest `retry_after` waited for: an admin is waiting for the answer."""

Sleep = Callable[[float], Awaitable[None]]


class TelegramPaymentGateway:
    def __init__(self, bot: Bot, sleep: Sleep = asyncio.sleep) -> None:
        self._bot = bot
        self._sleep = sleep

    async def refund(self, payment: Payment) -> None:
        """Raises RefundRefused with Telegram's words when Telegram will not refund (or could
        not be reached after `ATTEMPTS` tries)."""
        _, _, user_id = payment.user.partition(":")
        if not user_id.isdigit():
            raise RefundRefused(f"{payment.user} is not a Telegram user")
        retrying = AsyncRetrying(
            stop=stop_after_attempt(ATTEMPTS),
            wait=_wait,
            retry=retry_if_exception(_transient),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._bot.refund_star_payment(int(user_id), payment.charge_id)
        except TelegramError as error:
            reason = telegram_words(error)
            if reason == ALREADY_REFUNDED:
                log.info("payment %s was refunded already", payment.id)
                return
            raise RefundRefused(reason) from error


def _transient(error: BaseException) -> bool:
    """Worth another try: Telegram asked to wait, or gave no answer, or a 5xx (PTB raises
    NetworkError for those; BadRequest is one too, but it is final)."""
    if isinstance(error, RetryAfter):
        return retry_seconds(error) <= MAX_WAIT_S
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest)


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    return retry_seconds(error) if isinstance(error, RetryAfter) else PAUSE_S


def telegram_words(error: TelegramError) -> str:
    """The error as Telegram wrote it. PTB drops "Bad Request: " and capitalizes the rest, so
    an error code (USER_ID_INVALID) arrives as "User_id_invalid": a code again."""
    message = error.message
    return message.upper() if "_" in message and " " not in message else message
