"""Credits in chat: `/balance`, `/usage`, `/queue`, `/buy` and the payments it leads to, and the
admins' `/grant` and `/refund`. Every change of a balance is one ledger entry whose key is its
cause (the admin's message, the platform's charge id), so a command or a payment reported
twice changes nothing the second time, and says nothing either. A balance, its usage and
one's queue are the asker's own business: that content is `private`."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from core.admission import Admission
from core.chat.content import (
    BalanceCard,
    Content,
    CreditOffer,
    LinePlace,
    Message,
    PurchaseVerdict,
    QueueView,
    Silent,
    UsageList,
)
from core.chat.operations import (
    BuyCredits,
    CheckPurchase,
    CompletePurchase,
    Grant,
    RefundPayment,
    ShowBalance,
    ShowQueue,
    ShowUsage,
)
from core.chat.user_refs import UserRefs
from core.credits import CreditPolicy, charge_for, format_credits, parse_credits
from core.errors import UserFacingError
from core.fair_queue import FairQueue
from core.ledger import LedgerKind
from core.limits import RunLimits
from core.models import ChatRef, RunStatus
from core.notices import Cmd, Notice
from core.payments import (
    CreditPack,
    Payment,
    PaymentGateway,
    PaymentStore,
    RefundRefused,
    offered,
)
from core.ports import AccountStore, Clock, RunStore, UserStore

log = logging.getLogger(__name__)

CreditOperation = (
    ShowBalance
    | ShowUsage
    | ShowQueue
    | BuyCredits
    | CheckPurchase
    | CompletePurchase
    | Grant
    | RefundPayment
)
STATEMENT_LINES = 5
MAX_GRANT = 1_000_000 * 100


class CreditDesk:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        admission: Admission,
        queue: FairQueue,
        store: RunStore,
        users: UserStore,
        payments: PaymentStore,
        gateways: Mapping[str, PaymentGateway],
        packs: Sequence[CreditPack],
        policy: CreditPolicy,
        limits: RunLimits,
        clock: Clock,
    ) -> None:
        self._accounts = accounts
        self._admission = admission
        self._queue = queue
        self._store = store
        self._people = UserRefs(users)
        self._payments = payments
        self._gateways = gateways
        """A platform adds its gateway when it starts (this mapping is shared)."""
        self._packs = tuple(packs)
        self._policy = policy
        self._limits = limits
        self._clock = clock

    async def answer(self, operation: CreditOperation, chat: ChatRef) -> Content:
        match operation:
            case ShowBalance():
                return await self._balance(chat)
            case ShowUsage(limit=limit):
                runs = await self._store.recent(limit, user_key=chat.user_key)
                return UsageList(
                    runs=tuple((run, charge_for(run)) for run in runs),
                    charging=self._policy.enabled,
                    private=True,
                )
            case ShowQueue():
                return await self._queue_view(chat)
            case BuyCredits():
                if not self._packs or chat.platform not in self._gateways:
                    raise UserFacingError("buy_unavailable")
                await self._admission.open(chat.user_key)
                balance = await self._accounts.balance(chat.user_key)
                return CreditOffer(packs=self._packs, balance=balance.available)
            case CheckPurchase(payload=payload, amount=amount, currency=currency):
                if offered(self._packs, payload, amount, currency):
                    return PurchaseVerdict(ok=True)
                return PurchaseVerdict(
                    ok=False, reason=Notice.of("purchase_unavailable", buy=Cmd("buy"))
                )
            case CompletePurchase():
                return await self._complete(operation, chat)
            case Grant(user=target, credits=typed, origin=origin):
                return await self._grant(target, typed, origin, chat)
            case RefundPayment(payment=charge_id):
                return Message(notice=await self._refund(charge_id, chat))
        raise TypeError(f"not a credit operation: {operation!r}")

    async def _balance(self, chat: ChatRef) -> BalanceCard:
        await self._admission.open(chat.user_key)
        balance = await self._accounts.balance(chat.user_key)
        entries = await self._accounts.statement(chat.user_key, STATEMENT_LINES)
        return BalanceCard(
            balance=balance, entries=tuple(entries), charging=self._policy.enabled, private=True
        )

    async def _queue_view(self, chat: ChatRef) -> QueueView:
        places = await self._queue.line(chat.user_key)
        recent = await self._store.recent(50, user_key=chat.user_key)
        running = tuple(
            run
            for run in recent
            if not run.status.terminal
            and (run.status is not RunStatus.PENDING or run.submit_started_at is not None)
        )
        return QueueView(
            waiting=tuple(LinePlace(p.run, p.place, p.starts_in_s) for p in places),
            running=running,
            limits=(self._limits.max_running_per_user, self._limits.max_queued_per_user),
            private=True,
        )

    async def _complete(self, purchase: CompletePurchase, chat: ChatRef) -> Content:
        pack = CreditPack.from_payload(purchase.payload, purchase.currency)
        if pack is None or pack.price != purchase.amount:
            # Paid, but not for anything we sell: an admin must look (and may refund it).
            log.error("payment %s does not match its invoice", purchase.payment_id)
            raise UserFacingError("purchase_mismatch", payment=purchase.payment_id)
        platform, _, charge = purchase.payment_id.partition(":")
        now = self._clock.now()
        payment = Payment(
            id=purchase.payment_id,
            platform=platform,
            charge_id=charge,
            user=chat.user_key,
            credits=pack.credits,
            amount=purchase.amount,
            currency=purchase.currency,
            at=now,
        )
        await self._payments.record(payment)
        await self._admission.open(chat.user_key)
        fresh = await self._accounts.credit(
            chat.user_key,
            f"purchase:{payment.id}",
            LedgerKind.PURCHASE,
            pack.credits,
            now,
            payment_id=payment.id,
        )
        if not fresh:
            return Silent()
        balance = await self._accounts.balance(chat.user_key)
        notice = Notice.of(
            "purchase_done",
            credits=format_credits(pack.credits),
            balance=format_credits(balance.available),
            payment=charge,
        )
        return Message(notice=notice)

    async def _grant(self, target: str, typed: str, origin: str | None, chat: ChatRef) -> Content:
        amount = parse_credits(typed)
        if amount is None or not 0 < amount <= MAX_GRANT:
            raise UserFacingError("grant_amount", value=typed, command=Cmd("grant"))
        user, shown = await self._people.resolve(target, chat, "grant")
        await self._admission.open(user)
        key = f"grant:{origin or f'{chat.user_key}:{self._clock.now().isoformat()}'}"
        fresh = await self._accounts.credit(
            user, key, LedgerKind.GRANT, amount, self._clock.now(), by=chat.user_key
        )
        if not fresh:
            return Silent()
        balance = await self._accounts.balance(user)
        return Message(
            notice=Notice.of(
                "grant_done",
                user=shown,
                credits=format_credits(amount),
                balance=format_credits(balance.available),
            )
        )

    async def _refund(self, charge_id: str, chat: ChatRef) -> Notice:
        payment = await self._payments.find(charge_id.strip())
        if payment is None:
            raise UserFacingError("refund_unknown", payment=charge_id)
        gateway = self._gateways.get(payment.platform)
        if gateway is None:
            raise UserFacingError("refund_unavailable", payment=payment.charge_id)
        try:
            await gateway.refund(payment)
        except RefundRefused as refused:
            return Notice.of("refund_refused", payment=payment.charge_id, reason=str(refused))
        now = self._clock.now()
        taken = await self._accounts.take_back(
            payment.user,
            f"refund:{payment.id}",
            LedgerKind.PAYMENT_REFUND,
            payment.credits,
            now,
            payment.id,
        )
        await self._payments.mark_refunded(payment.id, now)
        if taken is None:
            return Notice.of("refund_already", payment=payment.charge_id)
        got, short = taken
        log.info("payment %s refunded by %s", payment.id, chat.user_key)
        return Notice.of(
            "refund_done",
            payment=payment.charge_id,
            user=payment.user,
            credits=format_credits(got),
            shortfall=format_credits(short),
        )
