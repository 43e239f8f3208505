"""What an embedded server keeps of acknowledged writes when it is stopped by SIGTERM or SIGKILL.

Run: .venv/bin/python -m bench.kill_durability [--writes 2000] [--trials 3]

Each trial: a fresh on-disk folder, `--writes` acknowledged `insert_one`s, then the signal,
either at once or after a pause; the folder is reopened and its documents counted. This is why
the keeper stops the server with SIGTERM and kills it only as a last resort (see
adapters/mongo/keeper.py).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from adapters.mongo.embedded import free_port, mongo_uri, port_open
from adapters.mongo.folder_state import terminate_server
from adapters.mongo.server_process import server_command


def start(folder: Path) -> tuple[subprocess.Popen[bytes], MongoClient[dict[str, Any]]]:
    port = free_port()
    proc = subprocess.Popen(server_command(str(folder), port), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not port_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(0.02)
    return proc, MongoClient(mongo_uri(port))


def trial(sig: signal.Signals, pause_s: float, writes: int) -> int:
    with tempfile.TemporaryDirectory(prefix="kill_durability_") as folder:
        proc, client = start(Path(folder))
        for index in range(writes):
            client.bench.docs.insert_one({"i": index})
        client.close()
        time.sleep(pause_s)
        if sig == signal.SIGTERM:
            terminate_server(proc.pid)  # to its main thread, as the keeper does
        else:
            proc.send_signal(sig)
        proc.wait(30)
        proc, client = start(Path(folder))
        try:
            return client.bench.docs.count_documents({})
        finally:
            client.close()
            terminate_server(proc.pid)
            proc.wait(30)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args(argv)
    for sig, pause in ((signal.SIGKILL, 0.0), (signal.SIGKILL, 0.5), (signal.SIGTERM, 0.0)):
        kept = [trial(sig, pause, args.writes) for _ in range(args.trials)]
        print(
            f"{sig.name} {pause:.1f} s after the last ack: kept {kept} of {args.writes}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
