"""Many API clients polling their waiting runs do not each read the whole queue: a process reads
the line at most once a second for all of them (core/line_snapshot.py), and at once again after
it changed the queue itself. Counted by what the database was sent (PyMongo's command
monitoring, https://pymongo.readthedocs.io/en/stable/api/pymongo/monitoring.html): the queue's
read is the `find` on the runs collection through its `waiting` index."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pymongo import monitoring

from adapters.mongo.database import RUNS, WAITING_INDEX
from core.models import ChatRef
from tests.contract.runs_data import make_run
from tests.e2e.api_rig import Api, api_bot

RUNS_PATH = "/api/v1/workflows/txt2img/runs"


class QueueReads(monitoring.CommandListener):
    """The queue's reads (`find` on the runs with the waiting index) sent to one database."""

    def __init__(self) -> None:
        self.database = ""
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command = event.command
        if (
            event.database_name == self.database
            and event.command_name == "find"
            and command.get("find") == RUNS
            and command.get("hint") == WAITING_INDEX
        ):
            self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


READS = QueueReads()
monitoring.register(READS)  # for clients made from now on; it counts one database only


async def places(api: Api, tokens: dict[str, str], runs: dict[str, str]) -> dict[str, int]:
    """Every waiting run fetched five times at once, as many pollers would: its place."""

    async def place(run_id: str) -> int:
        status, view, _ = await api.call("GET", f"/api/v1/runs/{run_id}", tokens[run_id])
        assert status == 200 and view["status"] == "pending", view
        position: int = view["queue_position"]
        return position

    ids = [run_id for run_id in runs for _ in range(5)]
    seen = await asyncio.gather(*(place(run_id) for run_id in ids))
    found: dict[str, int] = {}
    for run_id, position in zip(ids, seen, strict=True):
        assert found.setdefault(run_id, position) == position
    return found


async def test_pollers_of_waiting_runs_share_one_read_of_the_line(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with api_bot(
        mongo_uri, tmp_path, max_running_per_user=1, max_running_per_deployment=0
    ) as api:
        READS.database = api.container.settings.mongodb_db
        tokens: dict[str, str] = {}
        asked: list[tuple[str, str]] = []
        for name in ("ann", "ben"):
            token = await api.key(name)
            for n in range(3):
                api.world.clock.advance(1)
                status, accepted, _ = await api.call(
                    "POST", RUNS_PATH, token, body={"prompt": f"{name} {n}"}
                )
                assert status == 202, accepted
                tokens[accepted["id"]] = token
                asked.append((name, accepted["id"]))
        ann, ben = [[run for who, run in asked if who == name] for name in ("ann", "ben")]
        waiting = {run: "" for run in (*ann[1:], *ben[1:])}
        # One running each; the rest go in turns: ann's 2nd, ben's 2nd, ann's 3rd, ben's 3rd.
        expected = {ann[1]: 1, ben[1]: 2, ann[2]: 3, ben[2]: 4}

        before = READS.count
        assert await places(api, tokens, waiting) == expected
        assert READS.count - before == 1  # twenty GETs, one read of the queue
        assert await places(api, tokens, waiting) == expected
        assert READS.count - before == 1  # within the second: none more

        api.world.clock.advance(1)
        assert await places(api, tokens, waiting) == expected
        assert READS.count - before == 2  # a second later: one more

        await api.finish(ann[0])  # ann's 2nd goes; her 3rd waited longer than ben's 2nd
        await api.container.queue.pump()
        del waiting[ann[1]]
        moved = {ann[2]: 1, ben[1]: 2, ben[2]: 3}
        assert await places(api, tokens, waiting) == moved  # at once, no second passed
        line = await api.container.queue.line()
        assert {place.run.id: place.place for place in line} == moved

        # A run another instance recorded meanwhile is not in this one's line yet: its GET
        # reads the line again, and shows the place it has.
        elsewhere = make_run(
            chat=ChatRef(platform="api", chat_id="ben", user_id="ben"),
            created_at=api.world.clock.now(),
        )
        await api.container.runs_store.insert(elsewhere)
        reads = READS.count
        status, view, _ = await api.call("GET", f"/api/v1/runs/{elsewhere.id}", tokens[ben[1]])
        assert (status, view["queue_position"]) == (200, 4)  # behind ann's 3rd and ben's two
        assert READS.count - reads == 1
