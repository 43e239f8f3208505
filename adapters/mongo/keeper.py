"""Keeps one database server alive exactly as long as the process that asked for it.

Run as a script (standard library only, never imported by the bot):

    python -I -S keeper.py --lifeline FD --wake-port PORT --grace S -- SERVER ARGS...

It starts SERVER as its child, prints `server-pid N` on stdout, relays the server's stderr to
its own, and stops the server when any of these happens:

- the lifeline pipe reaches end-of-file: the bot closed it (a stop), or the bot is gone,
  however it ended (SIGKILL included), since the kernel closes a dead process's descriptors.
  This is portable, and unlike `PR_SET_PDEATHSIG` it is tied to the bot *process*, not to the
  thread that spawned us (the bot spawns from an `asyncio.to_thread` worker);
- it receives SIGTERM, SIGINT or SIGHUP;
- the keeper itself dies: on Linux the server gets SIGTERM through `PR_SET_PDEATHSIG`, set in
  the child before exec. The keeper is single-threaded and spawns from its main thread, so the
  signal fires when the keeper process ends, not earlier
  (https://man7.org/linux/man-pages/man2/prctl.2.html). That signal goes to the whole process,
  so the caveat below applies to it; a server it leaves running is stopped by the next start
  (`embedded.stop_leftover_server`).

Stopping sends the server one SIGTERM, whatever asked how many times: `secantusd-py` handles
SIGTERM by closing WiredTiger cleanly (a final checkpoint). The signal goes to the server's
main thread (`tgkill`): CPython runs signal handlers only there, and a signal the kernel hands
to another thread can leave the main thread asleep in a lock wait, the handler never run
(seen here about one time in six, the server then running until killed). SIGKILL would skip
the clean close, and with the server's `transaction_sync=(enabled=false)` WiredTiger may still
hold acknowledged log records in memory
(https://source.wiredtiger.com/develop/tune_durability.html): a SIGKILL right after a burst of
writes lost the last ~12 acknowledged ones here. So SIGKILL is only the last resort, after
`--grace` seconds. While it waits, the keeper connects to the server's port now and then: the
server's accept thread sits in `accept()`, which closing the listening socket
does not wake on Linux, and its shutdown would otherwise wait out a 2 s join.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType

PR_SET_PDEATHSIG = 1
_WAKE_EVERY_S = 0.05
_CHUNK = 65536


def death_signal_setter() -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child get SIGTERM when this process dies (Linux only).

    libc is looked up here, before the fork, so the child only makes the system call."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    keeper = os.getpid()

    def set_death_signal() -> None:
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            os._exit(126)
        if os.getppid() != keeper:  # the keeper died before prctl took effect
            os._exit(0)

    return set_death_signal


def terminate(pid: int) -> None:
    """SIGTERM to the main thread of `pid` where the system can target a thread, else to `pid`."""
    tgkill = (
        getattr(ctypes.CDLL(None), "tgkill", None) if sys.platform.startswith("linux") else None
    )
    if tgkill is None or tgkill(pid, pid, signal.SIGTERM) != 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


class Keeper:
    def __init__(self, lifeline: int, wake_port: int, grace_s: float, command: list[str]) -> None:
        self.lifeline = lifeline
        self.wake_port = wake_port
        self.grace_s = grace_s
        self.stop_requested = False
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_stop_signal)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # wakes the select
        self.server = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=death_signal_setter(),
        )
        assert self.server.stderr is not None
        self.server_err: int | None = self.server.stderr.fileno()
        self.relay = True

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True

    def _relay_stderr(self) -> None:
        assert self.server_err is not None
        try:
            data = os.read(self.server_err, _CHUNK)
        except OSError:
            data = b""
        if not data:
            self.server_err = None
            return
        if self.relay:
            try:
                os.write(2, data)
            except OSError:  # the bot is gone; keep draining so the server never blocks
                self.relay = False

    def _say(self, line: str) -> None:
        if self.relay:
            with contextlib.suppress(OSError):
                os.write(2, line.encode() + b"\n")

    def _wait_events(self, timeout: float | None) -> None:
        watched = [self.wake_r]
        if self.lifeline >= 0:
            watched.append(self.lifeline)
        if self.server_err is not None:
            watched.append(self.server_err)
        with contextlib.suppress(InterruptedError):
            readable, _, _ = select.select(watched, [], [], timeout)
            if self.wake_r in readable:
                os.read(self.wake_r, _CHUNK)
            if self.lifeline in readable and not os.read(self.lifeline, _CHUNK):
                os.close(self.lifeline)
                self.lifeline = -1
                self.stop_requested = True
            if self.server_err is not None and self.server_err in readable:
                self._relay_stderr()

    def _wake_server(self) -> None:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.wake_port), timeout=0.2),
        ):
            pass

    def run(self) -> int:
        try:
            print(f"server-pid {self.server.pid}", flush=True)
            sys.stdout.close()
        except OSError:  # the owner is already gone
            self.stop_requested = True
        while self.server.poll() is None and not self.stop_requested:
            self._wait_events(1.0)
        if self.server.poll() is None:
            terminate(self.server.pid)
            deadline = time.monotonic() + self.grace_s
            while self.server.poll() is None and time.monotonic() < deadline:
                self._wake_server()
                self._wait_events(_WAKE_EVERY_S)
            if self.server.poll() is None:
                self.server.kill()
                self._say(f"keeper: the server did not stop within {self.grace_s:g} s: killed")
        code = self.server.wait()
        while self.server_err is not None:  # the last lines, such as a traceback
            self._relay_stderr()
        return code


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="run a server for as long as the lifeline")
    parser.add_argument("--lifeline", type=int, required=True)
    parser.add_argument("--wake-port", type=int, required=True)
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no server command given")
    try:
        keeper = Keeper(args.lifeline, args.wake_port, args.grace, command)
    except OSError as error:
        print(f"keeper: cannot start {command[0]}: {error}", file=sys.stderr)
        return 127
    return keeper.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
