"""How long `asyncio.timeout(x)` around a PyMongo async call takes to end when the database stops
answering (the embedded server frozen with SIGSTOP), and what comes out.

Run: .venv/bin/python -m bench.cancel_bench [--bound 1.5]

The bot's own client settings (adapters/mongo/database.py `create_client`: server selection
10 s, connect 5 s, socket 30 s) against the embedded server on disk, plus a server on 127.0.0.1
that accepts connections and never answers. Each call is awaited inside `asyncio.timeout(bound)`:
single commands on a pooled connection, twenty at once (new connections), the rest of a cursor
whose first batch was read (its `getMore`) read directly and through the stores' `read_all`
(adapters/mongo/cursor_reads.py), with socketTimeoutMS 30 s and 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pymongo

from adapters.mongo.cursor_reads import read_all
from adapters.mongo.database import Collection, create_client
from adapters.mongo.embedded import EmbeddedMongo
from bench.host import host_facts


def freeze(pid: int) -> None:
    """SIGSTOP, returning once the process is stopped (state T in /proc/<pid>/stat)."""
    os.kill(pid, signal.SIGSTOP)
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
        pass


async def timed(bound: float, call: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    began = time.monotonic()
    try:
        async with asyncio.timeout(bound):
            await call()
        outcome = "returned"
    except TimeoutError:
        outcome = "TimeoutError"
    except BaseException as error:  # what the driver turned the cancellation into, if anything
        outcome = type(error).__name__
    return {"seconds": round(time.monotonic() - began, 2), "outcome": outcome}


async def silent_server(bound: float) -> dict[str, Any]:
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = create_client(f"mongodb://127.0.0.1:{port}/?directConnection=true")
    coll = client["bench"]["c"]
    try:
        return {
            "find_one": await timed(bound, lambda: coll.find_one({})),
            "update_one": await timed(bound, lambda: coll.update_one({}, {"$set": {"a": 1}})),
        }
    finally:
        await client.close()
        for writer in held:
            writer.close()
        server.close()


async def rest_of_cursor(coll: Collection, pid: int, bound: float, guarded: bool) -> Any:
    cursor = coll.find({}).sort("_id", 1)
    await cursor.next()  # the first batch is here: the server holds a cursor
    freeze(pid)
    try:
        if guarded:
            return await timed(bound, lambda: read_all(cursor))
        return await timed(bound, cursor.to_list)
    finally:
        os.kill(pid, signal.SIGCONT)


async def single_commands(coll: Collection, bound: float) -> dict[str, Any]:
    async def twenty() -> None:
        await asyncio.gather(*(coll.find_one({"_id": 1}) for _ in range(20)))

    return {
        "find_one": await timed(bound, lambda: coll.find_one({"_id": 1})),
        "update_one": await timed(bound, lambda: coll.update_one({"_id": 1}, {"$inc": {"n": 1}})),
        "insert_one": await timed(bound, lambda: coll.insert_one({})),
        "twenty_find_one_at_once": await timed(bound, twenty),
    }


async def frozen_server(folder: Path, bound: float) -> dict[str, Any]:
    server = EmbeddedMongo(folder / "mongo")
    uri = await server.start()
    pid = server.server_pid
    assert pid is not None
    found: dict[str, Any] = {}
    try:
        for socket_s in (30, 5):
            client = create_client(uri, socket_timeout_ms=socket_s * 1000)
            coll = client["bench"]["c"]
            await coll.drop()
            await coll.insert_many([{"_id": n, "pad": "x" * 100} for n in range(500)])
            row: dict[str, Any] = {}
            if socket_s == 30:
                freeze(pid)
                try:
                    row.update(await single_commands(coll, bound))
                finally:
                    os.kill(pid, signal.SIGCONT)
            row["getMore_direct"] = await rest_of_cursor(coll, pid, bound, guarded=False)
            row["getMore_read_all"] = await rest_of_cursor(coll, pid, bound, guarded=True)
            found[f"socketTimeoutMS_{socket_s * 1000}"] = row
            await client.close()
    finally:
        await server.stop()
    return found


async def main(bound: float) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="comfybot-cancel-bench-"))
    result: dict[str, Any] = {"bound_s": bound, "pymongo": pymongo.version}
    result["never_answering_server"] = await silent_server(bound)
    result["frozen_embedded_server"] = await frozen_server(folder, bound)
    result.update(host_facts())
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bound", type=float, default=1.5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.bound)), indent=2))
