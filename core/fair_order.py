"""The order in which waiting runs get a slot: round-robin across users.

Each waiting run's rank is how many of its user's runs would be running or ahead of it: a
user with two running and ten waiting has ranks 3..12; someone else's first run has rank 1 and
goes first. Ties go to the run that has waited longest, so users take turns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.models import Run


def fair_order(waiting: Sequence[Run], running: Mapping[str, int]) -> list[Run]:
    """`waiting` oldest first; `running`: slots each user holds now."""
    seen: dict[str, int] = {}
    ranked = []
    for run in sorted(waiting, key=lambda r: (r.created_at, r.id)):
        user = run.chat.user_key
        ahead = seen.get(user, 0)
        seen[user] = ahead + 1
        ranked.append((running.get(user, 0) + ahead + 1, run.created_at, run.id, run))
    return [run for *_, run in sorted(ranked, key=lambda item: item[:3])]
