"""Builds every service from Settings; nothing happens at import time."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web

from adapters.comfydeploy.client import ComfyDeployClient
from adapters.http.app import HttpServer, build_http_app
from adapters.mongo.catalog import MongoCatalogStore
from adapters.mongo.database import Client, Database, open_database
from adapters.mongo.embedded import EmbeddedMongo
from adapters.mongo.kv import MongoKeyValueStore
from adapters.mongo.runs import MongoRunStore
from adapters.mongo.users import MongoUserStore
from bot.config_files import load_catalog_file, load_routing_file
from bot.scheduler import EngineScheduler
from bot.settings import Settings
from core.catalog import Catalog
from core.chat import ChatService
from core.clock import SystemClock
from core.commands import CommandRules
from core.costs import CostService
from core.delivery import DeliveryPolicy, DeliveryService
from core.files import FileManager
from core.metrics import Metrics
from core.ports import ChatNotifier, Clock, WorkflowBackend
from core.routing import Router
from core.run_watch import RunWatch
from core.runs import RunManager, RunPolicy
from core.webhook_tokens import WebhookSigner

log = logging.getLogger(__name__)

MB = 1_000_000


@dataclass
class Container:
    """Every long-lived service of one bot process."""

    settings: Settings
    clock: Clock
    metrics: Metrics
    mongo_client: Client
    db: Database
    backend: WorkflowBackend
    runs_store: MongoRunStore
    kv: MongoKeyValueStore
    users: MongoUserStore
    catalog: Catalog
    costs: CostService
    files: FileManager
    delivery: DeliveryService
    runs: RunManager
    watch: RunWatch
    signer: WebhookSigner
    embedded: EmbeddedMongo | None = None
    http: HttpServer | None = None
    scheduler: EngineScheduler | None = None
    _closers: list[contextlib.AsyncExitStack] = field(default_factory=list)

    def chat_service(self, rules: CommandRules) -> ChatService:
        return ChatService(
            catalog=self.catalog,
            runs=self.runs,
            store=self.runs_store,
            users=self.users,
            admins=self.settings.admin_ids,
            rules=rules,
            clock=self.clock,
        )

    async def start_engine(
        self, before_reconcile: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Load the catalog and prices, then settle what a previous process left unfinished.

        `before_reconcile` starts the chat platforms: they need the catalog (command menus),
        and owed results need them."""
        await self.catalog.start()
        await self.costs.refresh()
        if before_reconcile is not None:
            await before_reconcile()
        await self.watch.reconcile()

    async def start_http(self, routes: Iterable[web.RouteDef] = ()) -> HttpServer:
        app = build_http_app(
            runs=self.runs,
            store=self.runs_store,
            signer=self.signer,
            metrics=self.metrics,
            db_ping=self._db_ping,
            backend_ping=self.backend.ping,
            extra_routes=routes,
        )
        self.http = HttpServer(app, self.settings.http_host, self.settings.http_port)
        await self.http.start()
        return self.http

    def start_scheduler(self) -> EngineScheduler:
        self.scheduler = EngineScheduler(self, self.settings)
        self.scheduler.start()
        return self.scheduler

    async def _db_ping(self) -> bool:
        try:
            await self.db.command("ping")
        except Exception:
            return False
        return True

    async def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        await self.runs.drain()
        await self.delivery.drain()
        await self.delivery.close()
        if self.http is not None:
            await self.http.stop()
        for stack in reversed(self._closers):
            await stack.aclose()


async def build_container(
    settings: Settings,
    *,
    backend: WorkflowBackend | None = None,
    clock: Clock | None = None,
    notifiers: Iterable[ChatNotifier] = (),
    delivery_policy: DeliveryPolicy | None = None,
    shared_database: bool = False,
) -> Container:
    """Start the database (embedded when MONGODB_URI is unset) and wire every service.

    `shared_database`: a short-lived command; an embedded database then uses the running
    bot's server if there is one (see `EmbeddedMongo`)."""
    stack = contextlib.AsyncExitStack()
    try:
        return await _build(
            settings, stack, backend, clock, notifiers, delivery_policy, shared_database
        )
    except BaseException:
        await stack.aclose()
        raise


async def _build(
    settings: Settings,
    stack: contextlib.AsyncExitStack,
    backend: WorkflowBackend | None,
    clock: Clock | None,
    notifiers: Iterable[ChatNotifier],
    delivery_policy: DeliveryPolicy | None,
    shared_database: bool = False,
) -> Container:
    clock = clock or SystemClock()
    catalog_file = load_catalog_file(settings.catalog_file)
    routing_file = load_routing_file(settings.routing_file)
    embedded: EmbeddedMongo | None = None
    if settings.mongodb_uri is None:
        embedded = EmbeddedMongo(settings.data_dir / "mongo", shared=shared_database)
        uri = await embedded.start()
        stack.push_async_callback(embedded.stop)
        log.info("embedded database started on %s", uri)
    else:
        uri = settings.mongodb_uri.get_secret_value()
    client, db = await open_database(uri, settings.mongodb_db)
    stack.push_async_callback(client.close)
    if backend is None:
        key = settings.comfydeploy_api_key
        client_backend = ComfyDeployClient(
            settings.comfydeploy_api_url,
            key.get_secret_value() if key else "",
            timeout_s=settings.comfydeploy_timeout_seconds,
        )
        stack.push_async_callback(client_backend.close)
        backend = client_backend
    metrics = Metrics()
    runs_store = MongoRunStore(db)
    kv = MongoKeyValueStore(db)
    secret = settings.webhook_secret
    webhook_secret = (
        secret.get_secret_value()
        if secret
        else await kv.set_if_absent("webhook_secret", secrets.token_hex(32))
    )
    signer = WebhookSigner(webhook_secret, settings.public_base_url)
    catalog = Catalog(
        backend,
        MongoCatalogStore(db),
        catalog_file,
        clock,
        timedelta(seconds=settings.catalog_refresh_seconds),
    )
    costs = CostService(backend)
    files = FileManager(
        backend,
        settings.data_dir,
        max_input_bytes=int(settings.max_input_image_mb * MB),
        max_output_bytes=int(settings.max_output_mb * MB),
        fetch_timeout_s=120,
    )
    delivery = DeliveryService(
        store=runs_store,
        files=files,
        costs=costs,
        clock=clock,
        metrics=metrics,
        policy=delivery_policy or DeliveryPolicy(),
        notifiers=notifiers,
    )
    run_policy = RunPolicy(
        poll_after=timedelta(seconds=settings.poll_after_seconds),
        poll_interval=timedelta(seconds=settings.poll_interval_seconds),
        poll_max_backoff=timedelta(minutes=5),
        run_timeout=timedelta(seconds=settings.run_timeout_seconds),
        max_prompt_chars=settings.max_prompt_chars,
    )
    runs = RunManager(
        store=runs_store,
        backend=backend,
        catalog=catalog,
        router=Router(routing_file),
        costs=costs,
        files=files,
        delivery=delivery,
        clock=clock,
        signer=signer,
        policy=run_policy,
        metrics=metrics,
    )
    watch = RunWatch(
        runs=runs,
        store=runs_store,
        backend=backend,
        delivery=delivery,
        clock=clock,
        policy=run_policy,
    )
    return Container(
        settings=settings,
        clock=clock,
        metrics=metrics,
        mongo_client=client,
        db=db,
        backend=backend,
        runs_store=runs_store,
        kv=kv,
        users=MongoUserStore(db),
        catalog=catalog,
        costs=costs,
        files=files,
        delivery=delivery,
        runs=runs,
        watch=watch,
        signer=signer,
        embedded=embedded,
        _closers=[stack],
    )
