"""The embedded server lives exactly as long as its owner, and one folder has one server.

Each test starts real servers (about 0.6 s each); every process a test starts is killed at
teardown if it is still alive."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from adapters.mongo.embedded import EmbeddedMongo, EmbeddedMongoError, port_open
from adapters.mongo.folder_state import (
    RECORD,
    ServerRecord,
    owner_alive,
    pid_alive,
    read_record,
    server_holding,
    write_record,
)
from tests.contract.embedded_procs import Processes, dead_pid, wait_gone

LINUX = sys.platform.startswith("linux")


@pytest.fixture
def procs() -> Iterator[Processes]:
    register = Processes()
    try:
        yield register
    finally:
        register.kill_all()


async def read_value(uri: str, key: str) -> str | None:
    client: AsyncMongoClient[dict[str, str]] = AsyncMongoClient(uri)
    try:
        doc = await client.comfybot.kv.find_one({"_id": key})
    finally:
        await client.close()
    return None if doc is None else doc["value"]


async def write_value(uri: str, key: str, value: str) -> None:
    client: AsyncMongoClient[dict[str, str]] = AsyncMongoClient(uri)
    try:
        await client.comfybot.kv.insert_one({"_id": key, "value": value})
    finally:
        await client.close()


async def until(condition: Callable[[], bool]) -> None:
    """Poll `condition` until it holds; fail after 20 s.

    The conditions are file locks held by other processes or threads: nothing signals them."""
    async with asyncio.timeout(20):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def started(procs: Processes, server: EmbeddedMongo) -> str:
    uri = await server.start()
    procs.track(server.server_pid, server.keeper_pid)
    return uri


async def test_server_dies_with_its_owner_killed_by_sigkill(
    tmp_path: Path, procs: Processes
) -> None:
    folder = tmp_path / "mongo"
    owner, server_pid, keeper_pid = procs.owner(folder)

    owner.kill()
    owner.wait()
    assert wait_gone(server_pid, 20), "the server outlived its owner"
    assert wait_gone(keeper_pid, 5)
    assert server_holding(folder) is None

    again = EmbeddedMongo(folder)
    uri = await started(procs, again)
    try:
        # The keeper stopped the server with SIGTERM, a clean WiredTiger close: nothing lost.
        assert await read_value(uri, "left-by") == "owner"
    finally:
        await again.stop()


async def test_owner_stops_the_server_even_after_its_keeper_was_killed(
    tmp_path: Path, procs: Processes
) -> None:
    server = EmbeddedMongo(tmp_path / "mongo")
    await started(procs, server)
    server_pid, keeper_pid = server.server_pid, server.keeper_pid
    assert server_pid and keeper_pid
    os.kill(keeper_pid, signal.SIGKILL)
    assert wait_gone(keeper_pid, 5)
    await server.stop()
    assert wait_gone(server_pid, 1)


async def test_stale_server_of_a_dead_owner_is_stopped_and_the_start_goes_on(
    tmp_path: Path, procs: Processes
) -> None:
    folder = tmp_path / "mongo"
    folder.mkdir()
    leftover, port = procs.bare_server(folder)
    await write_value(f"mongodb://127.0.0.1:{port}/?directConnection=true", "k", "kept")
    gone = dead_pid()
    write_record(folder, ServerRecord(gone, gone, leftover.pid, port, "bot", "running"))

    server = EmbeddedMongo(folder)
    uri = await started(procs, server)
    try:
        assert leftover.wait(5) == 0  # stopped with SIGTERM: a clean exit, not a kill
        assert await read_value(uri, "k") == "kept"
        record = read_record(folder)
        assert record is not None
        assert (record.owner_pid, record.server_pid) == (os.getpid(), server.server_pid)
        assert record.status == "running"
    finally:
        await server.stop()
    assert not (folder / RECORD).exists()


async def test_stale_record_without_a_server_is_replaced(tmp_path: Path, procs: Processes) -> None:
    folder = tmp_path / "mongo"
    folder.mkdir()
    gone = dead_pid()
    write_record(folder, ServerRecord(gone, gone, gone, 1, "bot", "running"))
    server = EmbeddedMongo(folder)
    await started(procs, server)
    try:
        record = read_record(folder)
        assert record is not None and record.server_pid == server.server_pid
    finally:
        await server.stop()


async def test_a_live_bots_server_is_never_killed(tmp_path: Path, procs: Processes) -> None:
    folder = tmp_path / "mongo"
    bot = EmbeddedMongo(folder)
    uri = await started(procs, bot)
    try:
        with pytest.raises(EmbeddedMongoError, match=rf"running bot \(pid {os.getpid()}\)"):
            await EmbeddedMongo(folder).start()
        assert bot.server_pid is not None and pid_alive(bot.server_pid)
        await write_value(uri, "k", "v")
    finally:
        await bot.stop()


async def test_a_server_comfybot_did_not_start_is_left_alone(
    tmp_path: Path, procs: Processes
) -> None:
    folder = tmp_path / "mongo"
    folder.mkdir()
    foreign, _ = procs.bare_server(folder)
    for shared in (False, True):
        with pytest.raises(EmbeddedMongoError, match="in use by another running server"):
            await EmbeddedMongo(folder, shared=shared).start()
    assert foreign.poll() is None


async def test_a_cli_uses_the_running_bots_server(tmp_path: Path, procs: Processes) -> None:
    folder = tmp_path / "mongo"
    bot = EmbeddedMongo(folder)
    bot_uri = await started(procs, bot)
    try:
        await write_value(bot_uri, "k", "from the bot")
        cli = EmbeddedMongo(folder, shared=True)
        cli_uri = await cli.start()
        assert cli_uri == bot_uri
        assert cli.server_pid is None  # it started nothing
        assert await read_value(cli_uri, "k") == "from the bot"
        await cli.stop()
        assert bot.server_pid is not None and pid_alive(bot.server_pid)
        assert await read_value(bot_uri, "k") == "from the bot"
    finally:
        await bot.stop()


async def test_a_cli_does_not_wait_for_its_own_server_to_stop(
    tmp_path: Path, procs: Processes
) -> None:
    folder = tmp_path / "mongo"
    cli = EmbeddedMongo(folder, shared=True)
    await started(procs, cli)
    server_pid, keeper_pid = cli.server_pid, cli.keeper_pid
    assert server_pid and keeper_pid
    # Frozen, the server cannot shut down: a stop that waited would hang until its timeout.
    os.kill(server_pid, signal.SIGSTOP)
    try:
        begun = time.monotonic()
        await cli.stop()
        assert time.monotonic() - begun < 2.0
        record = read_record(folder)
        assert record is not None and record.status == "stopping"
    finally:
        os.kill(server_pid, signal.SIGCONT)
    assert wait_gone(server_pid, 15) and wait_gone(keeper_pid, 5)


async def test_a_start_while_the_previous_server_is_still_shutting_down(
    tmp_path: Path, procs: Processes
) -> None:
    folder = tmp_path / "mongo"
    first = EmbeddedMongo(folder, shared=True)
    uri = await started(procs, first)
    await write_value(uri, "k", "first")
    old_pid = first.server_pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGSTOP)  # still holding the folder when the next start comes
    await first.stop()
    second = EmbeddedMongo(folder)
    starting = asyncio.create_task(started(procs, second))
    try:
        # Once the new start owns the folder, it is waiting: the frozen server still holds it.
        await until(lambda: owner_alive(folder) or starting.done())
        assert server_holding(folder) is not None
        os.kill(old_pid, signal.SIGCONT)
        uri = await starting
        assert not pid_alive(old_pid)
        assert await read_value(uri, "k") == "first"
    finally:
        if pid_alive(old_pid):
            os.kill(old_pid, signal.SIGCONT)
        await second.stop()


async def test_a_bot_start_waits_for_a_cli_command_to_finish(
    tmp_path: Path, procs: Processes
) -> None:
    folder = tmp_path / "mongo"
    cli = EmbeddedMongo(folder, shared=True)
    await started(procs, cli)
    bot = EmbeddedMongo(folder)
    starting = asyncio.create_task(started(procs, bot))
    await asyncio.sleep(0)
    await cli.stop()
    await starting
    try:
        assert bot.server_pid is not None and bot.server_pid != cli.server_pid
        assert port_open(int(bot.uri.split(":")[2].split("/")[0]))
    finally:
        await bot.stop()


@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG is Linux-only")
async def test_the_server_gets_a_death_signal_tied_to_its_keeper(
    tmp_path: Path, procs: Processes
) -> None:
    server = EmbeddedMongo(tmp_path / "mongo")
    await started(procs, server)
    try:
        assert server.server_pid is not None
        assert os.getpgid(server.server_pid) == server.keeper_pid  # its own session, too
        status = await asyncio.to_thread(Path(f"/proc/{server.server_pid}/status").read_text)
        parent = next(line for line in status.splitlines() if line.startswith("PPid:"))
        assert parent.split()[1] == str(server.keeper_pid)
    finally:
        await server.stop()
