"""A finished run's result posted again on request (`/show`, the 🖼 button): through the same
notifier that delivered it, into the chat that asked, as a reply there, with its buttons.

A repost is no delivery: nothing about it is recorded on the run (a repost that fails is simply
asked for again), and it leaves the run's own status message alone.
"""

from __future__ import annotations

from core.journal import DeliveryJournal
from core.models import ChatRef, PartState, RunResult


class _Unrecorded:
    """A `core.journal.PartLog` that keeps nothing beyond the journal's own memory."""

    async def set_part(self, run_id: str, owner: str, part: str, state: PartState | None) -> bool:
        return True


def repost_journal(run_id: str) -> DeliveryJournal:
    return DeliveryJournal(_Unrecorded(), run_id, "repost", {})


def shown_here(result: RunResult, here: ChatRef) -> RunResult:
    """The result addressed to the chat, topic and message that asked, in the asker's language;
    who made the run stays who made it."""
    made_by = result.run.chat
    chat = here.model_copy(
        update={
            "user_id": made_by.user_id,
            "user_name": made_by.user_name,
            "username": made_by.username,
            "group": here.group,
        }
    )
    run = result.run.model_copy(update={"chat": chat, "progress_message_id": None})
    return result.model_copy(update={"run": run})
