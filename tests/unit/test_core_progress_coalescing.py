"""Progress edits per chat: the first goes out at once, later ones wait, the latest wins."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from core.delivery import DeliveryPolicy, DeliveryService
from core.files import FileManager
from core.journal import DeliveryJournal
from core.metrics import Metrics
from core.models import ChatRef, ProgressView, Run, RunResult, RunStatus
from core.progress import ProgressBoard
from tests.fakes.clock import FakeClock

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class ShownProgress:
    """A chat platform that records each status text it was asked to show."""

    platform = "test"

    def __init__(self) -> None:
        self.shown: list[tuple[str, float]] = []

    async def show_progress(self, view: ProgressView) -> str | None:
        self.shown.append((view.run.id, view.progress))
        return "message-1"

    async def post_result(self, result: RunResult, journal: DeliveryJournal) -> RunResult | None:
        raise AssertionError("no result expected")

    async def end_status(self, ending: RunResult) -> None:
        raise AssertionError("no run ended")


class NoStore:
    async def set_progress_message(self, run_id: str, message_id: str) -> None:
        return None

    async def is_finished(self, run_id: str) -> bool:
        return False


def run(run_id: str, progress: float, chat: str = "c1") -> Run:
    return Run(
        id=run_id,
        workflow="w",
        deployment_id="d",
        chat=ChatRef(platform="test", chat_id=chat, user_id="u"),
        status=RunStatus.RUNNING,
        progress=progress,
        created_at=NOW,
        updated_at=NOW,
    )


def service(notifier: ShownProgress, interval_s: float, tmp_path: Path) -> DeliveryService:
    return DeliveryService(
        store=NoStore(),  # type: ignore[arg-type]
        files=FileManager(None, tmp_path, 1, 1, 1),  # type: ignore[arg-type]
        clock=FakeClock(NOW),
        metrics=Metrics(),
        policy=DeliveryPolicy(progress_interval_s=interval_s),
        notifiers=[notifier],
    )


async def test_updates_within_the_interval_collapse_to_the_latest(tmp_path: Path) -> None:
    notifier = ShownProgress()
    delivery = service(notifier, interval_s=3600, tmp_path=tmp_path)
    for step in (0.1, 0.2, 0.3, 0.4):
        await delivery.run_changed(run("r1", step))
    await delivery.run_changed(run("r2", 0.5, chat="c2"))
    # One edit per chat so far: r1's first view, and r2's in its own chat.
    assert notifier.shown == [("r1", 0.1), ("r2", 0.5)]
    await delivery.close()


async def test_without_an_interval_every_latest_view_is_shown(tmp_path: Path) -> None:
    notifier = ShownProgress()
    delivery = service(notifier, interval_s=0, tmp_path=tmp_path)
    for step in (0.1, 0.2, 0.3):
        await delivery.run_changed(run("r1", step))
        await delivery.drain()
    assert notifier.shown == [("r1", 0.1), ("r1", 0.2), ("r1", 0.3)]


class EndedElsewhere(NoStore):
    """The store as another process leaves it: every run ended, and delivered there."""

    async def is_finished(self, run_id: str) -> bool:
        return True

    async def get(self, run_id: str) -> Run:
        return run(run_id, 1.0).model_copy(update={"status": RunStatus.SUCCESS})


class PutRight(ShownProgress):
    def __init__(self) -> None:
        super().__init__()
        self.ended: list[str] = []

    async def end_status(self, ending: RunResult) -> None:
        self.ended.append(ending.run.id)


async def test_a_run_delivered_by_another_process_is_put_right_and_forgotten() -> None:
    notifier = PutRight()
    store = EndedElsewhere()
    board = ProgressBoard(
        store,  # type: ignore[arg-type]
        {"test": notifier},
        lambda r: RunResult(run=r),
        0,
    )
    for n in range(3):
        await board.show(run(f"r{n}", 0.5, chat=f"c{n}"))
    await board.drain()
    assert sorted(notifier.ended) == ["r0", "r1", "r2"]  # back in their final state
    assert board.remembered == 0  # no status message id kept for runs delivered elsewhere
    await board.close()


class SlowToEnd(ShownProgress):
    """Its final status edits wait for a gate (a slow or flood-limited edit)."""

    def __init__(self) -> None:
        super().__init__()
        self.ending = asyncio.Event()
        self.gate = asyncio.Event()

    async def end_status(self, ending: RunResult) -> None:
        self.ending.set()
        await self.gate.wait()


async def test_a_slow_final_edit_after_a_progress_edit_does_not_hold_back_a_result() -> None:
    """A progress edit finds its run ended and puts the status message right; a result being
    posted in that chat meanwhile does not wait for that edit."""
    notifier = SlowToEnd()
    board = ProgressBoard(
        EndedElsewhere(),  # type: ignore[arg-type]
        {"test": notifier},
        lambda r: RunResult(run=r),
        0,
    )
    await board.show(run("r1", 0.5))
    await notifier.ending.wait()
    async with asyncio.timeout(10):  # a guard against a deadlock, not a measure of speed
        async with board.posting(run("r2", 0.5)):
            posted = True
    assert posted and notifier.shown == [("r1", 0.5)]
    notifier.gate.set()
    await board.drain()
    await board.close()
