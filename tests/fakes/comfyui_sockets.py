"""The fake ComfyUI's `/ws` sockets and who hears what, as in ComfyUI's `server.py`.

A socket registers under its `clientId` query value (or a fresh hex id) and first gets
`status` with its `sid`. A second socket with the same id takes the name over; the first stays
open but hears nothing more. Messages sent to a `sid` reach only that socket, and are lost if
none is connected; messages with no `sid` (queue `status` updates) reach every socket. If the
first text frame a client sends is `feature_flags`, the server answers with its own. See
https://github.com/comfyanonymous/ComfyUI/blob/master/server.py (`websocket_handler`,
`send_json`, `send_bytes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.comfyui_nodes import JsonDict

SERVER_FEATURES: JsonDict = {"supports_preview_metadata": True, "max_upload_size": 104857600}
PREVIEW_IMAGE = 1
PREVIEW_IMAGE_WITH_METADATA = 4


@dataclass
class SocketRecord:
    """One `/ws` connection, and every frame the fake sent it."""

    sid: str
    ws: web.WebSocketResponse
    transport: asyncio.BaseTransport | None
    feature_flags: JsonDict = field(default_factory=dict)
    sent: list[JsonDict] = field(default_factory=list)
    closed: bool = False


class SocketHub:
    def __init__(self, changed: asyncio.Condition) -> None:
        self._changed = changed
        self.by_sid: dict[str, SocketRecord] = {}
        self.all: list[SocketRecord] = []
        """Every socket ever connected, newest last (also those taken over or closed)."""

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def connected(self, sid: str) -> bool:
        return sid in self.by_sid

    def supports_metadata(self, sid: str | None) -> bool:
        record = self.by_sid.get(sid or "")
        return bool(record and record.feature_flags.get("supports_preview_metadata"))

    async def handle(
        self, request: web.Request, hello: JsonDict, resume: JsonDict | None
    ) -> web.WebSocketResponse:
        """Serve one socket until it closes; `hello` is the queue info for the first `status`,
        `resume` an `executing` message for a client reconnecting mid-run (or None)."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sid = request.rel_url.query.get("clientId", "") or uuid.uuid4().hex
        record = SocketRecord(sid, ws, request.transport)
        self.by_sid[sid] = record
        self.all.append(record)
        try:
            await self._send(record, "status", {"status": hello, "sid": sid})
            if resume is not None:
                await self._send(record, "executing", resume)
            await self._notify()
            first = True
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except json.JSONDecodeError:
                    continue
                if first and isinstance(data, dict) and data.get("type") == "feature_flags":
                    record.feature_flags = dict(data.get("data") or {})
                    await self._send(record, "feature_flags", dict(SERVER_FEATURES))
                    await self._notify()
                first = False
        finally:
            record.closed = True
            if self.by_sid.get(sid) is record:
                del self.by_sid[sid]
            await self._notify()
        return ws

    async def _send(self, record: SocketRecord, event: str, data: Any) -> None:
        message = {"type": event, "data": data}
        record.sent.append(message)
        with contextlib.suppress(ConnectionError, RuntimeError, aiohttp.ClientError):
            await record.ws.send_json(message)  # ComfyUI logs "send error" and carries on

    async def send(self, event: str, data: Any, sid: str | None) -> None:
        """To one socket by `sid`, or to all when `sid` is None."""
        if sid is None:
            for record in list(self.by_sid.values()):
                await self._send(record, event, data)
        elif sid in self.by_sid:
            await self._send(self.by_sid[sid], event, data)

    async def send_preview(self, png: bytes, metadata: JsonDict, sid: str | None) -> None:
        """A binary preview frame: with metadata (type 4) to clients that asked for it, else the
        old type 1 with image format 2 (PNG)."""
        targets = (
            list(self.by_sid.values())
            if sid is None
            else [self.by_sid[sid]]
            if sid in self.by_sid
            else []
        )
        for record in targets:
            if record.feature_flags.get("supports_preview_metadata"):
                meta = json.dumps({**metadata, "image_type": "image/png"}).encode()
                frame = (
                    struct.pack(">I", PREVIEW_IMAGE_WITH_METADATA)
                    + struct.pack(">I", len(meta))
                    + meta
                    + png
                )
            else:
                frame = struct.pack(">I", PREVIEW_IMAGE) + struct.pack(">I", 2) + png
            record.sent.append({"type": "binary_preview", "data": {"bytes": len(frame)}})
            with contextlib.suppress(ConnectionError, RuntimeError, aiohttp.ClientError):
                await record.ws.send_bytes(frame)

    async def drop(self, sid: str | None = None) -> int:
        """Cut sockets without a closing handshake, as a lost connection does; returns how many."""
        records = [r for r in self.by_sid.values() if sid is None or r.sid == sid]
        for record in records:
            if isinstance(record.transport, asyncio.Transport):
                record.transport.abort()
            if self.by_sid.get(record.sid) is record:
                del self.by_sid[record.sid]
            record.closed = True
        await self._notify()
        return len(records)

    async def close_all(self) -> None:
        for record in list(self.by_sid.values()):
            await record.ws.close()
        self.by_sid.clear()
