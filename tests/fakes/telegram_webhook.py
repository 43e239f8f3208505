"""Updates POSTed to the bot's webhook, as https://core.telegram.org/bots/api#setwebhook says.

One JSON-serialized Update per request, with the header `X-Telegram-Bot-Api-Secret-Token` when
the bot set a `secret_token`; "in case of an unsuccessful request (a request with response HTTP
status code different from 2XY), we will repeat the request and give up after a reasonable
amount of attempts". The update_id lets a bot "ignore repeated updates"
(https://core.telegram.org/bots/api#update), so a test may deliver one twice.

By hand: `deliver_webhook(body)` posts a new update once; `post_update(update)` posts an
existing one as it is (same update_id). Automatically, with `FakeTelegram(push_webhooks=True)`:
every queued update is posted while a webhook is set, one at a time and in order, retried
after `webhook_retry_delay` seconds, doubling each time (like Telegram, which keeps an update
while the bot answers errors, not for a fixed tenth of a second), up to `webhook_max_attempts`
times, then dropped. Every attempt is recorded in `webhook_log`.
"""

from __future__ import annotations

import asyncio

import aiohttp

from tests.fakes.telegram_calls import WebhookAttempt
from tests.fakes.telegram_objects import JsonDict, now_seconds
from tests.fakes.telegram_state import FakeTelegramState

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookDelivery(FakeTelegramState):
    webhook_max_attempts = 8
    webhook_retry_delay = 0.02
    """Before the second attempt; doubled before each further one (2.5 s over 8 attempts)."""
    _session: aiohttp.ClientSession | None = None

    async def deliver_webhook(self, body: JsonDict, secret: str | None = None) -> int:
        """POST a new update to the registered webhook URL with its secret header; the HTTP status.
        `secret` overrides the registered secret token (to send a wrong one)."""
        return await self.post_update(self._new_update(body), secret)

    async def post_update(self, update: JsonDict, secret: str | None = None) -> int:
        """POST `update` (update_id included) once; the HTTP status. Raises if no answer."""
        assert self.webhook_url, "no webhook set"
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        token = self.webhook_secret if secret is None else secret
        headers = {SECRET_HEADER: token} if token else {}
        update_id = int(update["update_id"])
        attempt = WebhookAttempt(update_id, None, "no answer")
        try:
            async with self._session.post(
                self.webhook_url, json=update, headers=headers
            ) as response:
                attempt = WebhookAttempt(update_id, response.status)
                if not attempt.ok:
                    message = (
                        f"Wrong response from the webhook: {response.status} {response.reason}"
                    )
                    self.webhook_error = (now_seconds(), message)
                return response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            attempt = WebhookAttempt(update_id, None, f"{type(error).__name__}: {error}")
            self.webhook_error = (now_seconds(), f"Connection failed: {attempt.error}")
            raise
        finally:
            self.webhook_log.append(attempt)
            self._notify()

    async def _push_webhooks(self) -> None:
        """While running: post each queued update (redelivered ones first), with retries."""
        while True:
            async with self._changed:
                await self._changed.wait_for(self._has_push_work)
            if self._closing.is_set():
                return
            queue = self._again or self._updates
            update = queue[0]
            if await self._push(update) and queue and queue[0] is update:
                queue.pop(0)

    async def _push(self, update: JsonDict) -> bool:
        """Post with retries; False if the webhook went away meanwhile (the update stays)."""
        for attempt in range(self.webhook_max_attempts):
            if attempt:
                await asyncio.sleep(self.webhook_retry_delay * 2 ** (attempt - 1))
            if self._closing.is_set() or not self.webhook_url:
                return False
            try:
                if 200 <= await self.post_update(update) < 300:
                    return True
            except (aiohttp.ClientError, TimeoutError):
                pass
        return True  # given up on, as Telegram does

    def _has_push_work(self) -> bool:
        pending = bool(self._again or self._updates)
        return self._closing.is_set() or (self.webhook_url is not None and pending)

    async def _close_webhook_session(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
