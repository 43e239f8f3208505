"""A chat platform of the tests' own: each result is three messages (`head`, `body`, `tail`),
each recorded as the chat would show it, and any of them can be held mid-send by a gate."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from core.errors import SendFailed
from core.journal import DeliveryJournal, send_once
from core.models import ProgressView, RunResult

PARTS = ("head", "body", "tail")


@dataclass
class RecordingChat:
    platform: str = "test"
    posted: list[tuple[str, str]] = field(default_factory=list)
    """(run id, part) in the order the chat received them."""
    finals: Counter[str] = field(default_factory=Counter)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    """Part name -> a gate the send of that part waits on (once)."""
    reached: dict[str, asyncio.Event] = field(default_factory=dict)
    in_flight: int = 0
    most_in_flight: int = 0
    failure: SendFailed | None = None
    """Raised by every send while set."""
    paused: asyncio.Event | None = None
    """While set to an unset event, every send waits for it."""
    fail_once: dict[str, SendFailed] = field(default_factory=dict)
    """Part name -> raised by the next send of that part."""
    end_gate: asyncio.Event | None = None
    """While set to an unset event, every final status edit waits for it."""
    ending: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a final status edit begins."""
    end_failure: SendFailed | None = None
    """Raised by the next final status edit."""

    def hold(self, part: str) -> asyncio.Event:
        """The next send of `part` waits until the returned gate is set."""
        self.gates[part] = asyncio.Event()
        self.reached[part] = asyncio.Event()
        return self.gates[part]

    async def show_progress(self, view: ProgressView) -> str | None:
        return view.run.progress_message_id or f"status-{view.run.id}"

    async def post_result(self, result: RunResult, journal: DeliveryJournal) -> RunResult | None:
        for part in PARTS:
            await send_once(journal, part, lambda p=part: self._send(result.run.id, p))
        return result

    async def end_status(self, ending: RunResult) -> None:
        self.ending.set()
        if self.end_gate is not None:
            await self.end_gate.wait()
        if self.end_failure is not None:
            failure, self.end_failure = self.end_failure, None
            raise failure
        self.finals[ending.run.id] += 1

    async def _send(self, run_id: str, part: str) -> None:
        if self.failure is not None:
            raise self.failure
        if part in self.fail_once:
            raise self.fail_once.pop(part)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.paused is not None:
                await self.paused.wait()
            gate = self.gates.pop(part, None)
            if gate is not None:
                self.reached[part].set()
                await gate.wait()
            self.posted.append((run_id, part))
        finally:
            self.in_flight -= 1

    def messages_of(self, run_id: str) -> list[str]:
        return [part for rid, part in self.posted if rid == run_id]
