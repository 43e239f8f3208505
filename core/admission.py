"""Whether a run may be recorded, and what is held for it: the allow-lists, the user's cap on
runs waiting and running, and their credits. One conditional update of the user's account
decides the last two together, so a hundred commands at once against a balance that covers
ten admit exactly ten."""

from __future__ import annotations

from cachetools import LRUCache

from core.credits import CreditPolicy, format_credits
from core.errors import NotAllowed, UserFacingError
from core.ledger import Refusal
from core.limits import RunLimits
from core.models import ChatRef, RunCredits
from core.notices import Hint
from core.ports import AccountStore, Clock
from core.quotes import Quoter
from core.workflow import Workflow

OPENED_CACHE = 10_000
"""Users whose account this process knows exists."""


class Admission:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        quoter: Quoter,
        credits: CreditPolicy,
        limits: RunLimits,
        clock: Clock,
        admins: frozenset[str],
    ) -> None:
        self._accounts = accounts
        self._quoter = quoter
        self._credits = credits
        self._limits = limits
        self._clock = clock
        self._admins = admins
        self._opened: LRUCache[str, bool] = LRUCache(OPENED_CACHE)

    async def admit(
        self, run_id: str, chat: ChatRef, workflow: Workflow, rate_usd_per_s: float | None
    ) -> RunCredits | None:
        """Hold the run's price and count it against the user's caps; raises with what the
        user needs to know when it may not run."""
        user = chat.user_key
        if user not in self._admins and not self._limits.may_run(chat):
            raise NotAllowed("not_allowed_to_run")
        await self.open(user)
        expected = await self._quoter.expected_seconds(workflow)
        terms = self._credits.terms(expected, rate_usd_per_s)
        held = terms.held if terms else 0
        now = self._clock.now()
        refusal = await self._accounts.admit(user, run_id, held, self._limits.max_active, now)
        if refusal is Refusal.QUEUE_FULL:
            raise UserFacingError(
                "queue_full",
                running=self._limits.max_running_per_user,
                waiting=self._limits.max_queued_per_user,
            )
        if refusal is Refusal.NO_CREDITS:
            assert terms is not None
            balance = await self._accounts.balance(user)
            raise UserFacingError(
                "no_credits",
                price=format_credits(terms.quoted),
                held=format_credits(terms.held),
                balance=format_credits(balance.available),
                how=Hint("get_credits"),
            )
        return terms

    async def release(self, chat: ChatRef, run_id: str) -> None:
        """The admitted run was not recorded after all (a duplicate, a rejected upload)."""
        await self._accounts.release(chat.user_key, run_id, self._clock.now())

    async def open(self, user: str) -> None:
        """The user's account, created with NEW_USER_CREDITS the first time."""
        if user in self._opened:
            return
        await self._accounts.open(user, self._credits.new_user_cents, self._clock.now())
        self._opened[user] = True
