"""A database call cut off by the bot's own bound ends at that bound, with the server frozen.

A store read that is cut off (a timeout, a cancelled task) while its cursor waits for more
documents from a database that stopped answering ends at once: the caller does not wait for
the driver to close the cursor on the server (adapters/mongo/cursor_reads.py). The embedded
server is frozen with SIGSTOP the moment it has sent the first batch, so the cancellation
lands on the `getMore`; what the database was sent is seen through PyMongo's command
monitoring (https://pymongo.readthedocs.io/en/stable/api/pymongo/monitoring.html). A lease's
heartbeat (one command per call) comes back within its renewal interval the same way."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import monitoring

from adapters.mongo.database import create_client
from adapters.mongo.embedded import EmbeddedMongo
from adapters.mongo.leases import MongoLeaseStore
from adapters.mongo.runs import MongoRunStore
from core.clock import SystemClock
from core.leadership import LeaseKeeper
from core.lease import LeaseTiming
from tests.contract.embedded_procs import Processes
from tests.contract.runs_data import make_run
from tests.fakes.waiting import eventually


class Freezer(monitoring.CommandListener):
    """Stops the server as soon as it answered the runs' first `find` of one database (once
    armed); records which commands of that database ended."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.server_pid = 0
        self.armed = False
        self.ended: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        return None

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.database_name != self.database:
            return
        self.ended.append(event.command_name)
        if self.armed and event.command_name == "find":
            self.armed = False
            freeze(self.server_pid)  # before the getMore is sent

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        if event.database_name == self.database:
            self.ended.append(event.command_name)


def freeze(pid: int) -> None:
    """SIGSTOP, returning once the process is stopped (state T in /proc/<pid>/stat)."""
    os.kill(pid, signal.SIGSTOP)
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
        pass


class Heartbeats(monitoring.ServerHeartbeatListener):
    """The driver's checks of one server that failed: how it gives a frozen server up."""

    def __init__(self) -> None:
        self.port = 0
        self.failures = 0

    def started(self, event: monitoring.ServerHeartbeatStartedEvent) -> None:
        return None

    def succeeded(self, event: monitoring.ServerHeartbeatSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.ServerHeartbeatFailedEvent) -> None:
        if event.connection_id[1] == self.port:
            self.failures += 1


FREEZER = Freezer(f"cursor_{uuid.uuid4().hex[:12]}")
HEARTBEATS = Heartbeats()
monitoring.register(FREEZER)  # clients made from now on; they watch one database, one port
monitoring.register(HEARTBEATS)


@pytest.fixture
def procs() -> Iterator[Processes]:
    register = Processes()
    try:
        yield register
    finally:
        register.kill_all()


async def test_a_read_cut_off_mid_cursor_does_not_wait_for_the_frozen_server(
    tmp_path: Path, procs: Processes
) -> None:
    server = EmbeddedMongo(tmp_path / "mongo")
    uri = await server.start()
    assert server.server_pid is not None
    procs.track(server.server_pid, server.keeper_pid)
    FREEZER.server_pid = server.server_pid
    client = create_client(uri)  # the bot's own settings (socket timeout 30 s)
    HEARTBEATS.port = int(uri.rsplit(":", 1)[1].split("/")[0])
    try:
        store = MongoRunStore(client[FREEZER.database])
        for n in range(250):  # more than a first batch (101)
            await store.insert(make_run(id=f"run{n:09d}"))
        FREEZER.armed = True
        try:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5):
                    await store.recent(250)
            assert not FREEZER.armed  # it froze after the first batch: the cut was mid-cursor
            # Back before the driver closed its cursor: that waits until the driver gives the
            # frozen server up (a failed check, after its 5 s connect timeout) or times out.
            assert "killCursors" not in FREEZER.ended
            assert HEARTBEATS.failures == 0
        finally:
            os.kill(server.server_pid, signal.SIGCONT)

        async def cursor_closed() -> bool:
            return "killCursors" in FREEZER.ended

        await eventually(cursor_closed)  # the driver's clean-up, in the background
        assert len(await store.recent(250)) == 250
    finally:
        await client.close()
        await server.stop()


async def test_a_lease_heartbeat_to_a_frozen_server_ends_within_its_renewal_interval(
    tmp_path: Path, procs: Processes
) -> None:
    server = EmbeddedMongo(tmp_path / "mongo")
    uri = await server.start()
    assert server.server_pid is not None
    procs.track(server.server_pid, server.keeper_pid)
    client = create_client(uri)
    HEARTBEATS.port = int(uri.rsplit(":", 1)[1].split("/")[0])
    HEARTBEATS.failures = 0
    timing = LeaseTiming(2)  # renewed every 0.5 s
    try:
        store = MongoLeaseStore(client[FREEZER.database])
        keeper = LeaseKeeper(store, "sweeps", "me", SystemClock(), timing)
        await keeper.beat()
        grant = keeper.grant
        assert keeper.held and grant is not None
        freeze(server.server_pid)
        try:
            await keeper.beat()  # the renewal goes unanswered: given up at its bound
            assert HEARTBEATS.failures == 0  # long before the driver gave the server up
            assert keeper.grant == grant  # not lost, only not renewed
        finally:
            os.kill(server.server_pid, signal.SIGCONT)
        await keeper.beat()
        assert keeper.held and keeper.grant is not None and keeper.grant.until > grant.until
        await keeper.release()
    finally:
        await client.close()
        await server.stop()
