"""A delivery journal kept in memory, for notifier tests: what each message's state became."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.journal import DeliveryJournal
from core.models import PartState


@dataclass
class MemoryPartLog:
    parts: dict[str, PartState] = field(default_factory=dict)
    owner: str = "me"
    writes: list[tuple[str, PartState | None]] = field(default_factory=list)

    async def set_part(self, run_id: str, owner: str, part: str, state: PartState | None) -> bool:
        if owner != self.owner:
            return False
        self.writes.append((part, state))
        if state is None:
            self.parts.pop(part, None)
        else:
            self.parts[part] = state
        return True

    def journal(self, run_id: str = "abc123") -> DeliveryJournal:
        """A journal over what this log holds now (a new delivery attempt)."""
        return DeliveryJournal(self, run_id, "me", dict(self.parts))
