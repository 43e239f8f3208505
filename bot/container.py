"""Builds every service from Settings; nothing happens at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol, runtime_checkable

from aiohttp import web
from pymongo.errors import PyMongoError

from adapters.http.app import HttpServer, build_http_app
from adapters.mongo.accounts import MongoAccountStore
from adapters.mongo.api_keys import MongoApiKeyStore
from adapters.mongo.api_requests import MongoApiRequestStore
from adapters.mongo.catalog import MongoCatalogStore
from adapters.mongo.database import Client, Database, open_database
from adapters.mongo.deployment_slots import MongoDeploymentSlots
from adapters.mongo.embedded import EmbeddedMongo
from adapters.mongo.kv import MongoKeyValueStore
from adapters.mongo.leases import MongoLeaseStore
from adapters.mongo.payments import MongoPaymentStore
from adapters.mongo.rate_limits import MongoRateLimiter
from adapters.mongo.run_finder import MongoRunFinder
from adapters.mongo.runs import MongoRunStore
from adapters.mongo.transient import is_transient
from adapters.mongo.update_log import MongoUpdateLog
from adapters.mongo.uploads import MongoUploadStore
from adapters.mongo.users import MongoUserStore
from bot.backends import NO_BACKEND, build_backends
from bot.config_files import load_catalog_file, load_routing_file
from bot.preflight import data_dir_problem, missing_files, port_in_use_error, require
from bot.scheduler import Job, Scheduler
from bot.settings import Settings, SettingsError
from core.admission import Admission
from core.backends import BackendRegistry
from core.catalog import Catalog, CatalogView
from core.chat.book import CommandBook
from core.chat.commands import CommandRules
from core.chat.credit_desk import CreditDesk
from core.chat.result_actions import ResultActions
from core.chat.service import ChatService
from core.clock import SystemClock
from core.costs import CostService
from core.credits import CENTS, CreditPolicy
from core.delivery import DeliveryPolicy, DeliveryService
from core.dispatch import Dispatcher
from core.expiry import CreditExpiry
from core.fair_queue import FairQueue
from core.files import FileManager
from core.ingress import WebhookIngress
from core.intake import UpdateIntake
from core.launcher import RunLauncher
from core.leadership import LeaseKeeper, only_while_held
from core.lease import LeaseTiming
from core.limits import RunLimits
from core.media_hold import MediaHold
from core.metrics import Metrics
from core.models import Run
from core.payments import PaymentGateway
from core.policy import RunPolicy
from core.ports import ChatNotifier, Clock, LeaseStore, WorkflowBackend
from core.previews import PreviewBoard
from core.price_list import PriceList
from core.quotes import Quoter
from core.rate_limit import Pacer
from core.readiness import Readiness
from core.routing import Router
from core.run_watch import RunWatch
from core.tracker import RunTracker
from core.webhook_tokens import WebhookSigner

log = logging.getLogger(__name__)

MB = 1_000_000
SWEEPS = "sweeps"
"""The lease of the periodic sweeps, catalog refreshes and command syncs."""


@runtime_checkable
class RouteProvider(Protocol):
    """A backend that receives webhooks registers its own route(s) on our HTTP server."""

    def routes(self, ingress: WebhookIngress) -> list[web.RouteDef]: ...


@runtime_checkable
class IngressConsumer(Protocol):
    """A backend that pushes status events itself (an event stream per run) is handed the
    ingress its events go to."""

    def attach_ingress(self, ingress: WebhookIngress) -> None: ...


@dataclass
class Container:
    """Every long-lived service of one bot process."""

    settings: Settings
    clock: Clock
    metrics: Metrics
    mongo_client: Client
    db: Database
    backends: BackendRegistry
    runs_store: MongoRunStore
    kv: MongoKeyValueStore
    users: MongoUserStore
    catalog: Catalog
    costs: CostService
    files: FileManager
    delivery: DeliveryService
    tracker: RunTracker
    dispatcher: Dispatcher
    launcher: RunLauncher
    watch: RunWatch
    signer: WebhookSigner
    ingress: WebhookIngress
    accounts: MongoAccountStore
    queue: FairQueue
    credit_desk: CreditDesk
    pacer: Pacer
    payment_gateways: dict[str, PaymentGateway]
    """Platforms that take payments add theirs when they start (the credit desk reads it)."""
    prices: PriceList
    api_keys: MongoApiKeyStore
    api_requests: MongoApiRequestStore
    uploads: MongoUploadStore
    finder: MongoRunFinder
    instance_id: str
    """This process, as the owner of its leases and claims: host, pid and a random part."""
    lease_store: LeaseStore
    lease_timing: LeaseTiming
    update_intake: UpdateIntake
    readiness: Readiness = field(default_factory=Readiness)
    previews: PreviewBoard = field(default_factory=PreviewBoard)
    """Runs' latest preview images: backends put them, the HTTP run API's streams send them."""
    embedded: EmbeddedMongo | None = None
    http: HttpServer | None = None
    scheduler: Scheduler | None = None
    _keepers: dict[str, LeaseKeeper] = field(default_factory=dict)
    _settling: asyncio.Task[None] | None = None
    _closers: list[contextlib.AsyncExitStack] = field(default_factory=list)

    def lease(self, name: str) -> LeaseKeeper:
        """The keeper of the lease `name` (made on first use; started by `start_leases`)."""
        keeper = self._keepers.get(name)
        if keeper is None:
            keeper = LeaseKeeper(
                self.lease_store, name, self.instance_id, self.clock, self.lease_timing
            )
            self._keepers[name] = keeper
        return keeper

    @property
    def sweeps(self) -> LeaseKeeper:
        """Held by the one process that runs the sweeps and syncs the catalog and commands."""
        return self.lease(SWEEPS)

    def while_leading(
        self, listener: Callable[[CatalogView], Awaitable[None]]
    ) -> Callable[[CatalogView], Awaitable[None]]:
        """A catalog listener (a command sync) that only the holder of the sweeps runs."""

        async def listen(view: CatalogView) -> None:
            if self.sweeps.held:
                await listener(view)

        return listen

    def start_leases(self) -> None:
        for keeper in self._keepers.values():
            keeper.start()

    async def release_leases(self) -> None:
        """Stop the work each lease covers and hand the leases over (SIGTERM)."""
        await asyncio.gather(*(keeper.release() for keeper in self._keepers.values()))

    def chat_service(self, rules: CommandRules) -> ChatService:
        """The chat layer for one platform (its commands compiled under `rules`)."""
        return ChatService(
            book=CommandBook(self.catalog, rules),
            catalog=self.catalog,
            launcher=self.launcher,
            tracker=self.tracker,
            store=self.runs_store,
            finder=self.finder,
            users=self.users,
            delivery=self.delivery,
            admins=self.settings.admin_ids,
            clock=self.clock,
            save_outputs=self.files.save_outputs,
            credit_desk=self.credit_desk,
            pacer=self.pacer,
            default_language=self.settings.default_language,
            transient=is_transient,
        )

    async def start_engine(
        self,
        before_reconcile: Callable[[], Awaitable[None]] | None = None,
        *,
        settle: bool = True,
    ) -> None:
        """Load the catalog and prices, then settle what a previous process left unfinished
        (unless `settle` is False: then call `settle()` yourself, e.g. in the background).

        `before_reconcile` starts the chat platforms: they need the catalog (command menus),
        and owed results need them."""
        await self.catalog.start()
        refused = [
            f"{name}: the backend refused our credentials ({error})"
            for name, error in self.catalog.failures.items()
            if error.status in (401, 403)
        ]
        require(*refused)
        await self.costs.refresh()
        if before_reconcile is not None:
            await before_reconcile()
        if settle:
            await self.settle()
        self.readiness.started = True

    async def settle(self) -> None:
        """What a previous process left: unfinished runs polled, pending ones acted on, owed
        results delivered."""
        await self.watch.reconcile()
        await self.dispatcher.settle_pending()
        await self.queue.repair()
        await self.queue.pump()

    def backend_routes(self) -> list[web.RouteDef]:
        return [
            route
            for backend in self.backends
            if isinstance(backend, RouteProvider)
            for route in backend.routes(self.ingress)
        ]

    async def start_http(self, routes: Iterable[web.RouteDef] = ()) -> HttpServer:
        app = build_http_app(
            store=self.runs_store,
            metrics=self.metrics,
            db_ping=self._db_ping,
            backend_ping=self._backends_ping,
            routes=[*self.backend_routes(), *routes],
            readiness=self.readiness,
        )
        server = HttpServer(app, self.settings.http_host, self.settings.http_port)
        try:
            await server.start()
        except OSError as error:
            await server.stop()
            raise port_in_use_error(self.settings, error) from None
        self.http = server
        return server

    def jobs(self) -> list[Job]:
        """The periodic work. Sweeps over the whole database run only in the process holding
        the sweeps lease; each process keeps its own catalog, prices and files current."""
        settings = self.settings
        poll_every = self.watch.check_every_s
        sweep = settings.sweep_seconds
        refresh = settings.catalog_refresh_seconds
        reload_every = max(sweep, min(60.0, refresh))
        lead = self.leading
        return [
            Job("poll quiet runs", poll_every, lead(self.watch.poll_due)),
            Job("time out overdue runs", sweep * 3, lead(self.watch.expire_overdue)),
            Job("deliver owed results", sweep, lead(self.delivery.deliver_due)),
            Job("settle pending runs", sweep, lead(self.dispatcher.settle_pending)),
            Job("start queued runs", sweep, lead(self.queue.pump)),
            Job("repair queue and credits", sweep * 3, lead(self.queue.repair)),
            Job("copy ledger entries", sweep, lead(self._flush_ledger)),
            Job("refresh catalog", refresh, lead(self.catalog.refresh)),
            Job("reload catalog", reload_every, self.catalog.reload),
            Job("delete old outputs", 3600, self._purge_outputs),
            Job("refresh prices", 3600, self.costs.refresh),
            Job("expire idle credits", 3600, lead(self.credit_expiry.expire)),
        ]

    @property
    def credit_expiry(self) -> CreditExpiry:
        """Idle balances expiring after CREDIT_EXPIRY_DAYS (0: never)."""
        return CreditExpiry(self.accounts, self.settings.credit_expiry_days, self.clock)

    def leading(self, work: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
        """`work` done only by the holder of the sweeps, checked each time."""
        return only_while_held(self.sweeps, work)

    def start_scheduler(self, extra: Iterable[Job] = ()) -> Scheduler:
        """The jobs, and the leases: whoever takes the sweeps settles what was left unfinished
        (in the background, so the heartbeat goes on)."""
        self.scheduler = Scheduler([*self.jobs(), *extra])
        self.scheduler.start()
        self.sweeps.when_gained(self._settle_in_background)
        self.sweeps.when_lost(self._stop_settling)
        self.start_leases()
        return self.scheduler

    async def _settle_in_background(self) -> None:
        self._settling = asyncio.create_task(self._settle_logged())

    async def _settle_logged(self) -> None:
        try:
            await self.settle()
        except Exception:
            log.exception("settling what was left unfinished failed; the sweeps go on")

    async def _stop_settling(self) -> None:
        if self._settling is not None:
            self._settling.cancel()
            await asyncio.gather(self._settling, return_exceptions=True)
            self._settling = None

    async def _purge_outputs(self) -> int:
        keep = timedelta(hours=self.settings.output_retention_hours)
        return await self.files.purge(self.clock.now(), keep)

    async def _flush_ledger(self) -> int:
        return await self.accounts.flush_ledger(500)

    async def _db_ping(self) -> bool:
        try:
            await self.db.command("ping")
        except Exception:
            return False
        return True

    async def _backends_ping(self) -> bool:
        for backend in self.backends:
            if not await backend.ping():
                return False
        return True

    async def shutdown(self, grace_s: float | None) -> None:
        """Stop taking work: hand the leases over, stop the scheduled jobs and new deliveries;
        let what runs finish within `grace_s` (None: however long it takes); deliveries not
        done by then are given back for another process. /readyz says 503 throughout; the HTTP
        server closes last (webhooks landing meanwhile are still recorded). The database and
        the backends stay open."""
        self.readiness.draining = True
        loop = asyncio.get_running_loop()
        until = None if grace_s is None else loop.time() + grace_s

        def left() -> float | None:
            """What is left of the grace: one budget for every step (deliveries run on
            meanwhile), so the orchestrator's wait before it kills holds."""
            return None if until is None else max(0.0, until - loop.time())

        await self.release_leases()
        if self.scheduler is not None:
            await self.scheduler.stop(left())
            self.scheduler = None
        await self.queue.stop(30.0 if until is None else left() or 0.0)
        if grace_s is None:
            await self.delivery.drain()
        await self.delivery.stop(left() or 0)
        if self.http is not None:
            await self.http.stop()
            self.http = None

    async def close(self) -> None:
        await self.shutdown(None)
        for stack in reversed(self._closers):
            await stack.aclose()
        self._closers.clear()


async def build_container(
    settings: Settings,
    *,
    backends: Sequence[WorkflowBackend] | None = None,
    clock: Clock | None = None,
    notifiers: Iterable[ChatNotifier] = (),
    delivery_policy: DeliveryPolicy | None = None,
    shared_database: bool = False,
    previews: PreviewBoard | None = None,
) -> Container:
    """Start the database (embedded when MONGODB_URI is unset) and wire every service.
    `backends` replaces the configured ones (tests); the container closes them either way.
    `shared_database`: a short-lived command; an embedded database then uses the running
    bot's server if there is one (see `EmbeddedMongo`). `previews`: the preview board
    (tests give the one their own backends put previews on)."""
    stack = contextlib.AsyncExitStack()
    try:
        return await _build(
            settings,
            stack,
            backends,
            clock,
            notifiers,
            delivery_policy,
            shared_database,
            previews or PreviewBoard(),
        )
    except BaseException:
        await stack.aclose()
        raise


async def _build(
    settings: Settings,
    stack: contextlib.AsyncExitStack,
    backends: Sequence[WorkflowBackend] | None,
    clock: Clock | None,
    notifiers: Iterable[ChatNotifier],
    delivery_policy: DeliveryPolicy | None,
    shared_database: bool = False,
    previews: PreviewBoard | None = None,
) -> Container:
    clock = clock or SystemClock()
    previews = previews or PreviewBoard()
    require(*missing_files(settings), data_dir_problem(settings))
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
    try:
        client, db = await open_database(
            uri, settings.mongodb_db, settings.mongodb_timeout_seconds
        )
    except PyMongoError as error:
        where = "the embedded database" if embedded else "MONGODB_URI"
        raise SettingsError(f"{where}: no MongoDB answers ({type(error).__name__})") from None
    stack.push_async_callback(client.close)
    chosen = (
        list(backends) if backends is not None else build_backends(settings, previews=previews)
    )
    if not chosen:
        raise SettingsError(NO_BACKEND)
    registry = BackendRegistry(chosen)
    stack.push_async_callback(registry.close)
    metrics = Metrics()
    instance_id = _instance_id()
    lease_timing = LeaseTiming(settings.leader_lease_seconds)
    runs_store = MongoRunStore(db)
    accounts = MongoAccountStore(db)
    users = MongoUserStore(db)
    kv = MongoKeyValueStore(db)
    secret = settings.webhook_secret
    webhook_secret = (
        secret.get_secret_value()
        if secret
        else await kv.set_if_absent("webhook_secret", secrets.token_hex(32))
    )
    signer = WebhookSigner(webhook_secret, settings.public_base_url)
    catalog = Catalog(
        registry,
        MongoCatalogStore(db),
        catalog_file,
        clock,
        timedelta(seconds=settings.catalog_refresh_seconds),
    )
    costs = CostService(registry, catalog)
    policy = RunPolicy(
        poll_after=timedelta(seconds=settings.poll_after_seconds),
        poll_interval=timedelta(seconds=settings.poll_interval_seconds),
        poll_max_backoff=timedelta(minutes=5),
        run_timeout=timedelta(seconds=settings.run_timeout_seconds),
        webhooks=signer.enabled,
        max_prompt_chars=settings.max_prompt_chars,
        max_input_bytes=int(settings.max_input_image_mb * MB),
        delivery_lease=timedelta(seconds=settings.delivery_lease_seconds),
        locate_after=timedelta(seconds=settings.pending_locate_after_seconds),
        pending_give_up=timedelta(seconds=settings.pending_give_up_seconds),
    )
    files = FileManager(
        registry,
        settings.data_dir,
        max_input_bytes=policy.max_input_bytes,
        max_output_bytes=int(settings.max_output_mb * MB),
        fetch_timeout_s=300,
        extra_output_hosts=settings.output_hosts,
    )
    delivery = DeliveryService(
        store=runs_store,
        files=files,
        clock=clock,
        metrics=metrics,
        policy=delivery_policy
        or DeliveryPolicy(
            lease=policy.delivery_lease,
            retry_budget=timedelta(hours=settings.delivery_retry_hours),
            max_concurrent=settings.max_concurrent_deliveries,
        ),
        notifiers=notifiers,
        actions_for=ResultActions(catalog),
        balance_of=_balance_reader(accounts),
    )
    tracker = RunTracker(
        store=runs_store,
        backends=registry,
        delivery=delivery,
        clock=clock,
        policy=policy,
        metrics=metrics,
    )
    router = Router(routing_file, registry.default.name)
    media = MediaHold()
    dispatcher = Dispatcher(
        store=runs_store,
        backends=registry,
        router=router,
        costs=costs,
        tracker=tracker,
        signer=signer,
        clock=clock,
        policy=policy,
        media=media,
    )
    credit_policy = _credit_policy(settings)
    limits = _limits(settings)
    quoter = Quoter(runs_store, settings.default_expected_seconds, clock)
    admission = Admission(
        accounts=accounts,
        quoter=quoter,
        credits=credit_policy,
        limits=limits,
        clock=clock,
        admins=settings.admin_ids,
    )
    queue = FairQueue(
        store=runs_store,
        accounts=accounts,
        slots=MongoDeploymentSlots(db),
        dispatcher=dispatcher,
        catalog=catalog,
        quoter=quoter,
        limits=limits,
        clock=clock,
        display=delivery,
        open_account=admission.open,
        repair_after=timedelta(seconds=settings.queue_repair_after_seconds),
    )
    tracker.on_end(queue.run_ended)
    tracker.on_end(media.run_ended)
    gateways: dict[str, PaymentGateway] = {}
    credit_desk = CreditDesk(
        accounts=accounts,
        admission=admission,
        queue=queue,
        store=runs_store,
        users=users,
        payments=MongoPaymentStore(db),
        gateways=gateways,
        packs=settings.credit_packs,
        policy=credit_policy,
        limits=limits,
        clock=clock,
    )
    launcher = RunLauncher(
        store=runs_store,
        catalog=catalog,
        router=router,
        backends=registry,
        costs=costs,
        files=files,
        admission=admission,
        queue=queue,
        delivery=delivery,
        clock=clock,
        policy=policy,
        media=media,
    )
    watch = RunWatch(
        tracker=tracker,
        store=runs_store,
        backends=registry,
        delivery=delivery,
        clock=clock,
        policy=policy,
    )
    ingress = WebhookIngress(tracker, dispatcher, runs_store, signer, metrics, clock)
    for backend in registry:
        if isinstance(backend, IngressConsumer):
            backend.attach_ingress(ingress)
    return Container(
        settings=settings,
        clock=clock,
        metrics=metrics,
        mongo_client=client,
        db=db,
        backends=registry,
        runs_store=runs_store,
        kv=kv,
        users=users,
        catalog=catalog,
        costs=costs,
        files=files,
        delivery=delivery,
        tracker=tracker,
        dispatcher=dispatcher,
        launcher=launcher,
        watch=watch,
        signer=signer,
        ingress=ingress,
        accounts=accounts,
        queue=queue,
        credit_desk=credit_desk,
        pacer=Pacer(MongoRateLimiter(db), settings.rate_limit_per_user, clock),
        payment_gateways=gateways,
        prices=PriceList(router, costs, quoter, credit_policy),
        api_keys=MongoApiKeyStore(db),
        api_requests=MongoApiRequestStore(db),
        uploads=MongoUploadStore(db),
        finder=MongoRunFinder(db),
        instance_id=instance_id,
        lease_store=MongoLeaseStore(db),
        lease_timing=lease_timing,
        update_intake=UpdateIntake(MongoUpdateLog(db), instance_id, clock, lease_timing),
        embedded=embedded,
        previews=previews,
        _closers=[stack],
    )


def _credit_policy(settings: Settings) -> CreditPolicy:
    return CreditPolicy(
        enabled=settings.credits_enabled,
        credit_usd=settings.credit_usd,
        multiplier=settings.price_multiplier,
        max_reserve_factor=settings.max_reserve_factor,
        charge_failed=settings.charge_failed_runs,
        new_user_cents=round(settings.new_user_credits * CENTS),
        default_expected_s=settings.default_expected_seconds,
    )


def _limits(settings: Settings) -> RunLimits:
    return RunLimits(
        max_running_per_user=settings.max_running_per_user,
        max_queued_per_user=settings.max_queued_per_user,
        max_running_per_deployment=settings.max_running_per_deployment,
        rate_per_minute=settings.rate_limit_per_user,
        allowed_users=settings.allowed_users,
        allowed_chats=settings.allowed_chats,
    )


def _balance_reader(accounts: MongoAccountStore) -> Callable[[Run], Awaitable[int | None]]:
    async def balance_of(run: Run) -> int | None:
        if run.credits is None:
            return None
        return (await accounts.balance(run.chat.user_key)).available

    return balance_of


def _instance_id() -> str:
    """Unique per process start, readable in logs and in the leases collection."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
