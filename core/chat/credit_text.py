"""Credits and the queue on the text platforms: `/balance`, `/usage`, `/queue`, `/buy`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.chat.content import BalanceCard, CreditOffer, QueueView, UsageList
from core.credits import format_credits
from core.ledger import LedgerEntry, LedgerKind
from core.notices import Cmd

if TYPE_CHECKING:
    from core.chat.text_render import TextRenderer


class CreditText:
    def __init__(self, words: TextRenderer) -> None:
        self._words = words

    def _text(self, key: str, **params: object) -> str:
        return self._words.text(key, **params)

    def balance(self, card: BalanceCard) -> str:
        balance = card.balance
        if not card.charging:
            return self._text("balance.free")
        lines = [
            self._text("balance.available", credits=format_credits(balance.available)),
        ]
        if balance.reserved:
            lines.append(self._text("balance.reserved", credits=format_credits(balance.reserved)))
        if card.entries:
            lines += ["", self._text("balance.latest")]
            lines += [self._entry(entry) for entry in card.entries]
        lines += ["", self._text("balance.more", buy=Cmd("buy"), usage=Cmd("usage"))]
        return "\n".join(lines)

    def _entry(self, entry: LedgerEntry) -> str:
        # A hold only moves credits within the account: show what it took from (or gave back
        # to) the spendable balance. Every other entry shows what it changed in all.
        moves = entry.kind in (LedgerKind.RESERVE, LedgerKind.RELEASE)
        change = entry.available if moves else entry.available + entry.reserved
        amount = format_credits(change)
        if change > 0:
            amount = f"+{amount}"
        what = self._text(f"ledger.{entry.kind.value}", run=entry.run_id or "")
        return self._text("balance.line", when=f"{entry.at:%m-%d %H:%M}", amount=amount, what=what)

    def usage(self, listing: UsageList) -> str:
        if not listing.runs:
            return self._text("no_runs_of_yours", workflows=Cmd("workflows"))
        lines = [self._text("usage.title")]
        for run, charge in listing.runs:
            price = (
                self._text("usage.credits", credits=format_credits(charge))
                if listing.charging and run.credits is not None
                else self._words.cost(run.cost_usd)
            )
            lines.append(
                self._text(
                    "usage.line",
                    run=run.id,
                    workflow=run.workflow,
                    status=self._words.status_word(run.status),
                    price=price,
                )
            )
        return "\n".join(lines)

    def queue(self, view: QueueView) -> str:
        running, waiting = view.limits
        if not view.waiting and not view.running:
            return self._text("queue.empty", running=running, waiting=waiting)
        lines = []
        if view.running:
            lines.append(self._text("queue.running", count=len(view.running), limit=running))
            lines += [
                f"• {run.id} · {run.workflow} · {self._words.status_word(run.status)}"
                for run in view.running
            ]
        if view.waiting:
            lines.append(self._text("queue.waiting", count=len(view.waiting)))
            lines += [
                f"• {place.run.id} · {place.run.workflow} · "
                + self._words.runs.in_line(place.place, place.starts_in_s)
                for place in view.waiting
            ]
        lines.append(self._text("queue.limits", running=running, waiting=waiting))
        return "\n".join(lines)

    def offer(self, offer: CreditOffer) -> str:
        lines = [self._text("buy.title", balance=format_credits(offer.balance))]
        lines += [
            self._text("buy.pack", credits=format_credits(pack.credits), price=pack.price)
            for pack in offer.packs
        ]
        return "\n".join(lines)
