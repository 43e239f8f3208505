"""Processes for the embedded-server lifecycle tests: an owner in a child process, a server
started by hand, waiting for a pid to end, and a register that kills whatever is left."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from adapters.mongo.embedded import free_port, port_open
from adapters.mongo.folder_state import pid_alive, server_holding
from adapters.mongo.server_process import server_command

ROOT = Path(__file__).resolve().parents[2]

OWNER_SCRIPT = """
import asyncio, json, sys
from pymongo import MongoClient
from adapters.mongo.embedded import EmbeddedMongo

async def main() -> None:
    server = EmbeddedMongo(sys.argv[1])
    uri = await server.start()  # from an asyncio.to_thread worker, as the bot does
    with MongoClient(uri) as client:
        client.comfybot.kv.insert_one({"_id": "left-by", "value": "owner"})
    print(json.dumps({"keeper": getattr(server, "keeper_pid", None)}), flush=True)
    await asyncio.to_thread(sys.stdin.read)  # until the test kills us

asyncio.run(main())
"""


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until `pid` has exited (a zombie counts as exited); False if it outlives `timeout`.

    On Linux a pidfd becomes readable when the process ends, so nothing polls; elsewhere the
    process state is checked on a short interval until the deadline."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None:
        try:
            fd = pidfd_open(pid)
        except ProcessLookupError:
            return True
        try:
            readable, _, _ = select.select([fd], [], [], timeout)
            return bool(readable) or not pid_alive(pid)
        finally:
            os.close(fd)
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        select.select([], [], [], 0.02)
    return True


@dataclass
class Processes:
    """Every pid a test started, killed at teardown if still alive (even when the test fails)."""

    pids: list[int] = field(default_factory=list)
    popens: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def track(self, *pids: int | None) -> None:
        self.pids.extend(pid for pid in pids if pid)

    def kill_all(self) -> None:
        for proc in self.popens:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        for pid in self.pids:
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                wait_gone(pid, 5.0)

    def owner(self, folder: Path) -> tuple[subprocess.Popen[bytes], int, int]:
        """A child process that starts a server on `folder`; returns it, server and keeper pid."""
        proc = subprocess.Popen(
            [sys.executable, "-c", OWNER_SCRIPT, str(folder)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.popens.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "the owner process exited before starting its server"
        keeper = json.loads(line)["keeper"] or 0
        server = server_holding(folder) or 0  # the pid holding WiredTiger's lock
        assert server, "no server holds the folder"
        self.track(server, keeper)
        return proc, server, keeper

    def bare_server(self, folder: Path) -> tuple[subprocess.Popen[bytes], int]:
        """`secantusd-py` started directly (no keeper, no record), ready on its port."""
        port = free_port()
        proc = subprocess.Popen(
            server_command(str(folder), port),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.popens.append(proc)
        deadline = time.monotonic() + 20
        while not port_open(port):
            assert proc.poll() is None, "the server exited at start"
            assert time.monotonic() < deadline, "the server did not open its port"
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(0.05)
        return proc, port


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid
