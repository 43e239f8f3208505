"""The HTTP run API as a chat platform: its routes under `/api/v1` on the bot's own server, its
notifier for delivery (results recorded for polling and event streams, callbacks sent once),
and its lifecycle. Every API key is a user of platform `api` (core/api_keys.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from adapters.api.address_guard import PublicResolver
from adapters.api.auth import KeyRing
from adapters.api.callbacks import CallbackSender
from adapters.api.catalog_routes import CatalogRoutes
from adapters.api.config import ApiConfig
from adapters.api.door import ApiDoor
from adapters.api.errors import no_such_endpoint
from adapters.api.events import EventRoutes
from adapters.api.notifier import ApiNotifier
from adapters.api.openapi import PREFIX
from adapters.api.run_access import Line, RunAccess
from adapters.api.runs import RunDeps, RunRoutes
from adapters.api.signals import RunSignals
from adapters.api.uploads import UploadRoutes
from adapters.api.views import RunViews
from adapters.api.wording import SYNTAX
from core.api_keys import ApiKeyStore
from core.api_requests import ApiRequestStore
from core.catalog import Catalog
from core.chat.service import ChatService
from core.chat.text_render import TextRenderer
from core.ports import Clock, RunFinder, RunStore, UserStore
from core.previews import PreviewBoard
from core.price_list import PriceList
from core.retrying import Sleep
from core.uploads import UploadStore


@dataclass(frozen=True)
class ApiStores:
    keys: ApiKeyStore
    requests: ApiRequestStore
    uploads: UploadStore
    runs: RunStore
    finder: RunFinder
    users: UserStore


class ApiPlatform:
    def __init__(
        self,
        *,
        chat: ChatService,
        stores: ApiStores,
        catalog: Catalog,
        prices: PriceList,
        line: Line,
        clock: Clock,
        config: ApiConfig,
        callback_sleep: Sleep = asyncio.sleep,
        previews: PreviewBoard | None = None,
    ) -> None:
        """Build inside the event loop (the resolvers take it). `previews`: runs' preview
        images, sent on their event streams (none: no previews)."""
        words = TextRenderer(SYNTAX, chat.book, chat.default_language)
        self.signals = RunSignals()
        views = RunViews(words)
        keys = KeyRing(stores.keys, stores.users, clock)
        access = RunAccess(stores.runs, stores.requests, line)
        self._resolver = PublicResolver(config.allow_private_callbacks)
        self._sender = CallbackSender(
            allow_private=config.allow_private_callbacks,
            timeout_s=config.callback_timeout_s,
            sleep=callback_sleep,
        )
        self.notifier = ApiNotifier(
            requests=stores.requests,
            keys=stores.keys,
            signals=self.signals,
            views=views,
            sender=self._sender,
            outputs_dir=config.outputs_dir,
            public_base=config.public_base_url or "",
            clock=clock,
        )
        deps = RunDeps(
            chat=chat,
            keys=keys,
            door=ApiDoor(stores.uploads, self._resolver, config.allow_private_callbacks),
            access=access,
            requests=stores.requests,
            store=stores.runs,
            finder=stores.finder,
            catalog=catalog,
            prices=prices,
            views=views,
            words=words,
            clock=clock,
            config=config,
        )
        self._routes = [
            *CatalogRoutes(keys, catalog, prices, config).routes(PREFIX),
            *RunRoutes(deps).routes(PREFIX),
            *EventRoutes(
                keys, access, views, self.signals, config, previews or PreviewBoard(), clock
            ).routes(PREFIX),
            *UploadRoutes(keys, stores.uploads, words, clock, config).routes(PREFIX),
            web.route("*", f"{PREFIX}/{{tail:.*}}", no_such_endpoint),
        ]

    def routes(self) -> list[web.RouteDef]:
        return list(self._routes)

    async def stop_receiving(self) -> None:
        """End every event stream, so the server can stop."""
        self.signals.close()

    async def stop(self) -> None:
        self.signals.close()
        await self._sender.close()
        await self._resolver.close()
