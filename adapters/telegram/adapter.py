"""The Telegram front end: a python-telegram-bot Application wired to the chat layer.

Polling by default, with a loop of our own (polling.py) that `comfybot run` runs only in the
instance holding the polling lease (`start(poll=False)`, then `start_polling`/`stop_polling`).
With a webhook URL, Telegram pushes updates to our own aiohttp server (`routes()` /
`attach()`), checked by the secret-token header; PTB's webhook server and updater are not used.
Either way each update goes through the update intake (updates.py): once each, in order per
chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from adapters.telegram.chat_refs import PLATFORM
from adapters.telegram.checkout import CheckoutHandlers
from adapters.telegram.errors import use_timedelta_durations
from adapters.telegram.handlers import Context, UpdateHandlers
from adapters.telegram.keyboards import CALLBACK_PATTERN
from adapters.telegram.limits import UPLOAD_MAX_BYTES
from adapters.telegram.log_redaction import redact_token
from adapters.telegram.menu import CommandMenu
from adapters.telegram.notifier import TelegramNotifier
from adapters.telegram.pacing import TelegramPacer
from adapters.telegram.polling import Poller
from adapters.telegram.stars import TelegramPaymentGateway
from adapters.telegram.updates import UpdateFeed
from adapters.telegram.webhook import WebhookReceiver
from adapters.telegram.wording import SYNTAX
from core.catalog import CatalogView
from core.chat.service import ChatService
from core.chat.text_door import TextFrontDoor
from core.chat.text_render import TextRenderer
from core.errors import TryAgainLater
from core.intake import Outcome, UpdateIntake
from core.pacing import Timer
from core.ports import KeyValueStore

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.PRE_CHECKOUT_QUERY]
"""Payments: the pre-checkout query, and `successful_payment` in a message."""
MESSAGES = filters.UpdateType.MESSAGE & (
    filters.TEXT | filters.CAPTION | filters.PHOTO | filters.Document.IMAGE
)
"""Commands (as text or as the caption of an image), and images alone (a hint in private)."""
PAYMENTS = filters.UpdateType.MESSAGE & filters.SUCCESSFUL_PAYMENT
DEFAULT_WEBHOOK_PATH = "/webhooks/telegram"
SECRET_KEY = "telegram:webhook_secret"
DRAIN_TIMEOUT_S = 10.0
"""On stop, how long updates being handled may take to finish."""


class TelegramAdapter:
    def __init__(
        self,
        token: str,
        api_base_url: str,
        chat: ChatService,
        kv: KeyValueStore,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        *,
        upload_max_bytes: int = UPLOAD_MAX_BYTES,
        poll_timeout_s: float = 10.0,
        request_timeout_s: float = 20.0,
        pacing_timer: Timer | None = None,
        intake: UpdateIntake | None = None,
    ) -> None:
        """`pacing_timer`: the time every send is paced on (tests give one that moves at once).
        `intake`: each update once, in order per chat, across processes (without one, every
        update is handled as it comes)."""
        use_timedelta_durations()
        redact_token(token)
        base = api_base_url.rstrip("/")
        builder = (
            Application.builder()
            .token(token)
            .base_url(f"{base}/bot")
            .base_file_url(f"{base}/file/bot")
            .connect_timeout(10.0)
            .read_timeout(request_timeout_s)
            .write_timeout(request_timeout_s)
            .media_write_timeout(120.0)
            .pool_timeout(10.0)
            .get_updates_connect_timeout(10.0)
            .get_updates_read_timeout(request_timeout_s)
            .concurrent_updates(True)
            .rate_limiter(TelegramPacer(pacing_timer))
            .updater(None)
        )
        self._app: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self._webhook_url = _with_path(webhook_url) if webhook_url else None
        self._webhook_secret = webhook_secret
        self._kv = kv
        self._poll_timeout_s = poll_timeout_s
        bot_id = token.split(":", 1)[0]
        words = TextRenderer(SYNTAX, chat.book, chat.default_language)
        self._menu = CommandMenu(
            self._app.bot,
            chat.book,
            words,
            kv,
            f"telegram:commands:{bot_id}",
            admins=lambda: chat.admins_on(PLATFORM),
        )
        self._receiver = WebhookReceiver(self._feed)
        self._send_again: set[int] = set()
        """Updates whose command met TryAgainLater: Telegram is answered an error and resends."""
        self._feed_updates = UpdateFeed(bot_id, intake, self._process, self._parse)
        self._may_poll: Callable[[], bool] = lambda: True
        self._poller: asyncio.Task[None] | None = None
        self.notifier = TelegramNotifier(self._app.bot, words, upload_max_bytes)
        handlers = UpdateHandlers(
            chat, TextFrontDoor(chat.book), words, self.notifier, can_resend=bool(webhook_url)
        )
        checkout = CheckoutHandlers(chat, words, handlers.answer)
        self.payment_gateway = TelegramPaymentGateway(self._app.bot)
        """Refunds; for `Container.payment_gateways` once started."""
        self._app.add_handler(PreCheckoutQueryHandler(checkout.on_pre_checkout))
        self._app.add_handler(MessageHandler(PAYMENTS, checkout.on_successful_payment))
        self._app.add_handler(MessageHandler(MESSAGES, handlers.on_message))
        self._app.add_handler(CallbackQueryHandler(handlers.on_callback, pattern=CALLBACK_PATTERN))
        self._app.add_error_handler(self._on_error)

    @property
    def application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        return self._app

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, *, poll: bool = True, sync_commands: bool = True) -> None:
        """Connect (getMe), register the webhook (in webhook mode), start polling (unless
        `poll` is False: then `start_polling` when this process may), sync the menu (unless
        `sync_commands` is False: one process does it for all)."""
        try:
            await self._connect()
        except BaseException:
            await self.stop()
            raise
        self.notifier.ready = True
        log.info(
            "telegram: @%s started (%s)",
            self._app.bot.username,
            "webhook" if self._webhook_url else "polling",
        )
        if poll and not self._webhook_url:
            await self.start_polling()
        if sync_commands:
            try:
                await self.sync_commands()
            except TelegramError as error:
                log.warning("telegram: command menu not registered yet: %s", error.message)

    async def _connect(self) -> None:
        await self._app.initialize()
        if self._webhook_url:
            secret = self._webhook_secret or await self._kv.set_if_absent(
                SECRET_KEY, secrets.token_urlsafe(32)
            )
            await self._app.bot.set_webhook(
                self._webhook_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
            )
            self._receiver.secret = secret
        await self._app.start()

    @property
    def polls(self) -> bool:
        """Whether this adapter gets its updates by long polling (no webhook URL)."""
        return self._webhook_url is None

    async def start_polling(self, may_poll: Callable[[], bool] | None = None) -> None:
        """Start the long-polling loop, run while `may_poll()` (the polling lease is held);
        first, updates a previous poller took but never finished are handled."""
        if self._poller is not None or not self._app.running:
            return
        self._may_poll = may_poll or (lambda: True)
        poller = Poller(
            self._app.bot,
            self._feed_updates.polled,
            timeout_s=self._poll_timeout_s,
            allowed_updates=ALLOWED_UPDATES,
            may_poll=lambda: self._may_poll() and self._app.running,
        )
        self._poller = asyncio.create_task(self._poll(poller), name="telegram polling")

    async def _poll(self, poller: Poller) -> None:
        try:
            await self._feed_updates.resume()
        except Exception:
            log.exception("telegram: updates left unfinished could not be resumed")
        try:
            await poller.run()
        except Exception:
            log.exception("telegram: polling stopped")

    async def stop_polling(self) -> None:
        """Stop polling at once (the request in flight is cancelled); updates being handled
        go on."""
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller

    async def resume_abandoned(self) -> int:
        """Handle updates whose handler (in any process) died before finishing; how many."""
        if not self._app.running:
            return 0
        return await self._feed_updates.resume()

    async def stop_receiving(self) -> None:
        """Take no more updates (webhook requests get 503, so Telegram sends them again
        later, to whichever instance answers); let the ones being handled finish; results can
        still be sent."""
        self._receiver.open = False
        await self.stop_polling()
        await self._feed_updates.drain(DRAIN_TIMEOUT_S)
        if self._app.running:
            await self._app.stop()

    async def stop(self) -> None:
        await self.stop_receiving()
        self.notifier.ready = False
        await self._app.shutdown()
        await self._app.bot.shutdown()  # closes its HTTP clients even after a failed start

    # -- command menu ----------------------------------------------------------------------

    async def sync_commands(self) -> bool:
        """setMyCommands when the compiled menu differs from the stored one; True if sent."""
        return await self._menu.sync()

    async def on_catalog_change(self, view: CatalogView) -> None:
        """A catalog change listener (`Catalog.on_change`): keeps the menu current."""
        try:
            await self.sync_commands()
        except TelegramError as error:
            log.warning("telegram: command menu update failed: %s", error.message)

    # -- webhook ---------------------------------------------------------------------------

    @property
    def webhook_path(self) -> str:
        """The path Telegram posts to: that of TELEGRAM_WEBHOOK_URL."""
        return urlsplit(self._webhook_url).path if self._webhook_url else DEFAULT_WEBHOOK_PATH

    def routes(self, path: str | None = None) -> list[web.RouteDef]:
        """The webhook route for our aiohttp server (the path of TELEGRAM_WEBHOOK_URL)."""
        return [web.post(path or self.webhook_path, self._receiver.handle)]

    def attach(self, app: web.Application, path: str | None = None) -> None:
        app.router.add_routes(self.routes(path))

    async def _feed(self, body: dict[str, Any]) -> bool:
        """Handle the update before Telegram hears 200: killed halfway, the bot never answers,
        Telegram posts it again, and another instance takes it over once this one's claim
        has run out. A repeat of an update handled already is answered 200 and ignored."""
        if not self._app.running:
            return False
        try:
            outcome = await self._feed_updates.pushed(body)
        except TryAgainLater:
            return False  # its claim given up: the update sent again is handled anew
        except Exception:
            log.exception("telegram: update %s could not be taken in", body.get("update_id"))
            return False
        return outcome is not Outcome.BUSY

    async def _process(self, update: Update) -> None:
        """PTB's handlers on one update; raises TryAgainLater when its command asked Telegram
        to send it again (so the update log does not count it handled)."""
        await self._app.process_update(update)
        if update.update_id in self._send_again:
            self._send_again.discard(update.update_id)
            raise TryAgainLater(f"update {update.update_id}")

    def _parse(self, body: Mapping[str, Any]) -> Update:
        return Update.de_json(dict(body), self._app.bot)

    async def _on_error(self, update: object, context: Context) -> None:
        if isinstance(context.error, TryAgainLater) and isinstance(update, Update):
            self._send_again.add(update.update_id)
            return
        log.error("telegram: handling an update failed", exc_info=context.error)


def _with_path(url: str) -> str:
    """A webhook URL without a path gets the default one, so both ends agree on it."""
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        return parts._replace(path=DEFAULT_WEBHOOK_PATH).geturl()
    return url
