"""Updates POSTed to the bot's webhook, as https://core.telegram.org/bots/api#setwebhook says.

One JSON-serialized Update per request, with the header `X-Telegram-Bot-Api-Secret-Token` when
the bot set a `secret_token`; "in case of an unsuccessful request (a request with response HTTP
status code different from 2XY), we will repeat the request and give up after a reasonable
amount of attempts". The update_id lets a bot "ignore repeated updates"
(https://core.telegram.org/bots/api#update), so a test may deliver one twice.

By hand: `deliver_webhook(body)` posts a new update once; `post_update(update)` posts an
existing one as it is (same update_id); `post_update_with_retries(update)` posts it until it is
taken, with the backoff below. Automatically, with `FakeTelegram(push_webhooks=True)`:
every queued update is posted while a webhook is set, in order, retried after
`webhook_retry_delay` seconds, doubling each time (like Telegram, which keeps an update while
the bot answers errors, not for a fixed tenth of a second), up to `webhook_max_attempts` times,
then dropped. Every attempt is recorded in `webhook_log`.

How many posts are under way at once: setWebhook's `max_connections` when the bot gives it
(Telegram's default is 40), else `webhook_connections` (1 unless a test raises it: one at a
time, the fake's first behaviour). Like Telegram, "updates from the same chat" are delivered
"in sequence, and updates from different chats are sent concurrently"
(https://grammy.dev/guide/deployment-types): a chat's next update waits until its previous one
was answered or given up on.
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
    webhook_connections = 1
    """Posts under way at once when the bot set no `max_connections`."""
    webhook_max_connections: int | None = None
    """What the bot's setWebhook asked for, if anything."""
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

    async def post_update_with_retries(self, update: JsonDict) -> int | None:
        """POST `update` as Telegram does after a failed attempt: again with backoff until a 2XX
        or `webhook_max_attempts`; the last attempt's HTTP status (None: no answer)."""
        await self._push(update)
        last = [a for a in self.webhook_log if a.update_id == int(update["update_id"])][-1]
        return last.status

    async def _push_webhooks(self) -> None:
        """While running: post each queued update (redelivered ones first), with retries; a
        chat's updates one after the other, other chats' beside them."""
        posting: dict[int, asyncio.Task[None]] = {}
        """By update_id: the posts under way."""
        try:
            while True:
                async with self._changed:
                    await self._changed.wait_for(lambda: self._next_push(posting) is not None)
                if self._closing.is_set():
                    return
                found = self._next_push(posting)
                if found is None or found is True:
                    continue
                queue, update = found
                uid = int(update["update_id"])
                posting[uid] = asyncio.create_task(self._push_queued(queue, update, posting))
        finally:
            for task in posting.values():
                task.cancel()
            await asyncio.gather(*posting.values(), return_exceptions=True)

    async def _push_queued(
        self, queue: list[JsonDict], update: JsonDict, posting: dict[int, asyncio.Task[None]]
    ) -> None:
        try:
            if await self._push(update) and update in queue:
                queue.remove(update)
        finally:
            posting.pop(int(update["update_id"]), None)
            self._notify()

    def _next_push(
        self, posting: dict[int, asyncio.Task[None]]
    ) -> tuple[list[JsonDict], JsonDict] | bool | None:
        """The next update to post (and its queue): the first queued one whose chat has no post
        under way or earlier in line. True when closing; None when there is nothing to do."""
        if self._closing.is_set():
            return True
        limit = self.webhook_max_connections or self.webhook_connections
        if self.webhook_url is None or len(posting) >= limit:
            return None
        busy = {_chat_of(self.update_log.get(uid, {})) for uid in posting}
        for queue in (self._again, self._updates):
            for update in queue:
                chat = _chat_of(update)
                if int(update["update_id"]) not in posting and chat not in busy:
                    return queue, update
                busy.add(chat)  # its later updates wait for this one
        return None

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

    async def _close_webhook_session(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _chat_of(update: JsonDict) -> object:
    """Where an update belongs for ordering: its chat, else its user, else itself."""
    for kind in ("message", "edited_message", "callback_query", "pre_checkout_query"):
        body = update.get(kind)
        if isinstance(body, dict):
            message = body.get("message", body)
            chat = message.get("chat") if isinstance(message, dict) else None
            if isinstance(chat, dict):
                return ("chat", chat.get("id"))
            sender = body.get("from")
            if isinstance(sender, dict):
                return ("user", sender.get("id"))
    return ("update", update.get("update_id"))
