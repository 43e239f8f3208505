"""Which run a user means: its full id, or the first characters of it (at least six), among the
runs they may see. A run that is someone else's reads exactly like one that does not exist, so
nobody learns of another user's runs by guessing ids."""

from __future__ import annotations

from core.errors import UnknownRun, UserFacingError
from core.models import ChatRef, Run
from core.ports import RunFinder, RunStore

MIN_PREFIX = 6


class RunRefs:
    def __init__(self, store: RunStore, finder: RunFinder) -> None:
        self._store = store
        self._finder = finder

    async def resolve(self, ref: str, chat: ChatRef, admin: bool, *, shared: bool = False) -> Run:
        """The run `ref` names, if `chat`'s user may see it: their own, any for an admin, and
        (`shared`) any shown in this chat, where its buttons are."""
        ref = ref.strip()
        run = await self._store.get(ref)
        if run is not None:
            if visible(run, chat, admin, shared=shared):
                return run
            raise UnknownRun("unknown_run_of_yours", run=ref)
        if len(ref) < MIN_PREFIX:
            raise UserFacingError("run_id_too_short", run=ref, length=MIN_PREFIX)
        found = await self._finder.find_by_prefix(ref.lower(), None if admin else chat.user_key, 2)
        if not found:
            raise UnknownRun("unknown_run_of_yours", run=ref)
        if len(found) > 1:
            raise UserFacingError("run_ambiguous", run=ref)
        return found[0]


def visible(run: Run, chat: ChatRef, admin: bool, *, shared: bool = False) -> bool:
    if admin or run.chat.user_key == chat.user_key:
        return True
    return shared and (run.chat.platform, run.chat.chat_id) == (chat.platform, chat.chat_id)
