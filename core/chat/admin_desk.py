"""The admin operations: discover the catalog again, stats, post a result again, bans.

A ban names a user by id, `platform:id`, `@username` or bare name of someone the bot has
seen, or (on platforms with replies) by replying to their message; it is confirmed only once
it is stored."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from core.catalog import Catalog
from core.chat.content import Content, Message, Stats
from core.chat.operations import Ban, Redeliver, RefreshCatalog, ShowStats, Unban
from core.chat.run_refs import RunRefs
from core.chat.user_refs import UserRefs
from core.errors import UserFacingError
from core.models import ChatRef, DeliveryState, UsageBreakdown
from core.notices import Notice
from core.ports import Clock, RunFollower, RunStore, UserStore

AdminOperation = RefreshCatalog | ShowStats | Redeliver | Ban | Unban
STATS_DAYS = 7
"""/stats breaks down the runs of the last this many UTC days, today included."""
STATS_TOP = 5
"""Workflows and users /stats names one by one; the rest are folded together."""


class AdminDesk:
    def __init__(
        self,
        *,
        catalog: Catalog,
        store: RunStore,
        refs: RunRefs,
        delivery: RunFollower,
        users: UserStore,
        admins: frozenset[str],
        clock: Clock,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._refs = refs
        self._delivery = delivery
        self._users = users
        self._people = UserRefs(users)
        self._admins = admins
        self._clock = clock

    async def answer(self, operation: AdminOperation, chat: ChatRef) -> Content:
        match operation:
            case RefreshCatalog():
                return Message(notice=await self._refresh())
            case ShowStats():
                counts = await self._store.count_by_status()
                total = await self._store.total_cost()
                return Stats(
                    counts=counts,
                    total_cost=total,
                    workflows=len(self._catalog.view.visible()),
                    backends=await self._store.totals_by_backend(),
                    usage=await self._usage(),
                )
            case Redeliver(run_id=ref):
                return Message(notice=await self._redeliver(ref, chat))
            case Ban(user=target):
                user_key, shown = await self._people.resolve(target, chat, "ban")
                if user_key in self._admins:
                    raise UserFacingError("ban_admin")
                fresh = await self._users.ban(user_key, chat.user_key, self._clock.now())
                if not await self._users.is_banned(user_key):
                    raise UserFacingError("ban_failed", user=shown)
                return Message(
                    notice=Notice.of("ban_done" if fresh else "ban_already", user=shown)
                )
            case Unban(user=target):
                user_key, shown = await self._people.resolve(target, chat, "unban")
                lifted = await self._users.unban(user_key)
                key = "unban_done" if lifted else "unban_not_banned"
                return Message(notice=Notice.of(key, user=shown))
        raise TypeError(f"not an admin operation: {operation!r}")

    async def _usage(self) -> UsageBreakdown:
        today = self._clock.now().date()
        first = today - timedelta(days=STATS_DAYS - 1)
        since = datetime.combine(first, time(), tzinfo=UTC)
        usage = await self._store.usage_breakdown(since, STATS_TOP)
        return usage.every_day(today)

    async def _refresh(self) -> Notice:
        changed = await self._catalog.refresh(force=True)
        count = len(self._catalog.view.visible())
        if self._catalog.last_error:
            return Notice.of("refresh_failed", error=self._catalog.last_error, count=count)
        return Notice.of("refresh_updated" if changed else "refresh_unchanged", count=count)

    async def _redeliver(self, ref: str, chat: ChatRef) -> Notice:
        run = await self._refs.resolve(ref, chat, admin=True)
        if not run.status.terminal:
            return Notice.of("redeliver_unfinished", run=run.id)
        fresh = run.delivery is DeliveryState.DELIVERED
        if not await self._store.redeliver(run.id, self._clock.now(), fresh):
            return Notice.of("redeliver_busy", run=run.id)
        await self._delivery.deliver_due()
        return Notice.of("redeliver_done", run=run.id)
