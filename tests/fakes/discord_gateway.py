"""The fake Gateway: a WebSocket server speaking Gateway v10 JSON.

https://discord.com/developers/docs/events/gateway and #gateway-events: HELLO (op 10) on
connect; IDENTIFY (op 2) answered by READY (with `session_id`, `resume_gateway_url`,
`application {id, flags}`, unavailable `guilds`) and one GUILD_CREATE per guild; HEARTBEAT
(op 1) answered by HEARTBEAT_ACK (op 11); RESUME (op 6) replays missed dispatches and ends with
RESUMED; REQUEST_GUILD_MEMBERS (op 8) answered by GUILD_MEMBERS_CHUNK. Every dispatch carries
the session's next sequence number `s`. Transport compression `zlib-stream` (one zlib context
per connection, each frame ending in Z_SYNC_FLUSH) is honoured when the URL asks for it;
`zstd-stream` is not available here, so such connections get plain text frames. Close codes
follow https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway.

Tests can drop a connection (`close`), ask the client to reconnect (op 7), invalidate its
session (op 9), and hold resumes to observe a replay deterministically.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.discord_objects import JsonDict, iso
from tests.fakes.discord_state import DiscordWorld

# Opcodes: https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway-gateway-opcodes
DISPATCH = 0
HEARTBEAT = 1
IDENTIFY = 2
PRESENCE_UPDATE = 3
VOICE_STATE_UPDATE = 4
RESUME = 6
RECONNECT = 7
REQUEST_GUILD_MEMBERS = 8
INVALID_SESSION = 9
HELLO = 10
HEARTBEAT_ACK = 11
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
MESSAGE_CONTENT = 1 << 15
ALL_INTENTS = (1 << 26) - 1
PRIVILEGED = {
    GUILD_MEMBERS: (1 << 14) | (1 << 15),
    GUILD_PRESENCES: (1 << 12) | (1 << 13),
    MESSAGE_CONTENT: (1 << 18) | (1 << 19),
}
"""Each privileged intent and the application flags (full or limited) that enable it."""
SEND_LIMIT = (120, 60.0)
"""Client payloads allowed per connection: 120 per 60 seconds, then close 4008."""


@dataclass
class GatewayFrame:
    """One payload on a connection; `sent` is True for what the fake sent."""

    connection: int
    sent: bool
    op: int | None
    d: Any
    s: int | None = None
    t: str | None = None
    replayed: bool = False
    real_time: float = field(default_factory=time.perf_counter)


@dataclass
class GatewayConnection:
    id: int
    path: str
    query: dict[str, str]
    compress: str | None
    ws: web.WebSocketResponse
    kind: str | None = None
    """"identify" or "resume", once the client said which."""
    session_id: str | None = None
    client_close_code: int | None = None
    server_close_code: int | None = None
    outbox: asyncio.Queue[bytes | str | int] = field(default_factory=asyncio.Queue)
    compressor: Any = None
    received: list[float] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return not self.ws.closed


@dataclass
class GatewaySession:
    id: str
    intents: int
    shard: list[int] | None
    seq: int = 0
    events: list[JsonDict] = field(default_factory=list)
    connection: GatewayConnection | None = None
    invalidated: bool = False


class Gateway:
    def __init__(
        self,
        world: DiscordWorld,
        *,
        application_flags: int,
        heartbeat_interval_ms: int = 41_250,
    ) -> None:
        self.world = world
        self.application_flags = application_flags
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.url = ""
        self.resume_url = ""
        self.connections: list[GatewayConnection] = []
        self.frames: list[GatewayFrame] = []
        self.sessions: dict[str, GatewaySession] = {}
        self.identifies = 0
        self._resume_gate = asyncio.Event()
        self._resume_gate.set()
        self._writers: set[asyncio.Task[None]] = set()

    # -- what tests read -------------------------------------------------------------------

    @property
    def received(self) -> list[GatewayFrame]:
        """Every payload the client sent, in order."""
        return [f for f in self.frames if not f.sent]

    @property
    def resumes(self) -> list[GatewayConnection]:
        return [c for c in self.connections if c.kind == "resume"]

    @property
    def live(self) -> GatewaySession | None:
        """The session with an open, identified connection (the bot has one)."""
        for session in self.sessions.values():
            if session.connection is not None and session.connection.open:
                return session
        return None

    def dispatched(self, event: str) -> list[GatewayFrame]:
        return [f for f in self.frames if f.sent and f.t == event]

    # -- test controls ---------------------------------------------------------------------

    def close(self, code: int = 4000) -> None:
        """Close the live connection with `code` (4000 is resumable; 4004 is not)."""
        connection = self._live_connection()
        connection.server_close_code = code
        connection.outbox.put_nowait(code)
        session = self.sessions.get(connection.session_id or "")
        if session is not None:
            session.connection = None
            if code in (1000, 1001):
                session.invalidated = True

    def reconnect(self) -> None:
        """Send op 7 RECONNECT; the client should close and resume at `resume_gateway_url`."""
        self._send(self._live_connection(), {"op": RECONNECT, "d": None})

    def invalidate_session(self, resumable: bool = False) -> None:
        connection = self._live_connection()
        session = self.sessions.get(connection.session_id or "")
        if session is not None and not resumable:
            session.invalidated = True
        self._send(connection, {"op": INVALID_SESSION, "d": resumable})

    def request_heartbeat(self) -> None:
        self._send(self._live_connection(), {"op": HEARTBEAT, "d": None})

    def hold_resumes(self) -> None:
        """Park RESUME payloads (after recording them) until `release_resumes`."""
        self._resume_gate.clear()

    def release_resumes(self) -> None:
        self._resume_gate.set()

    def dispatch(self, event: str, data: JsonDict, intent: int | None = None) -> int:
        """Send a dispatch to every valid session (buffered for replay while disconnected);
        the number of sessions that got it."""
        count = 0
        for session in self.sessions.values():
            if session.invalidated or (intent is not None and not session.intents & intent):
                continue
            self._dispatch_to(session, event, data)
            count += 1
        return count

    async def stop(self) -> None:
        for connection in self.connections:
            if connection.open:
                connection.outbox.put_nowait(1001)
        for task in list(self._writers):
            try:
                async with asyncio.timeout(2):
                    await task
            except TimeoutError:
                task.cancel()

    # -- the WebSocket ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        query = dict(request.query)
        compress = query.get("compress")
        connection = GatewayConnection(
            len(self.connections) + 1,
            request.path,
            query,
            compress if compress == "zlib-stream" else None,
            ws,
        )
        if connection.compress:
            connection.compressor = zlib.compressobj()
        self.connections.append(connection)
        writer = asyncio.get_running_loop().create_task(self._write(connection))
        self._writers.add(writer)
        writer.add_done_callback(self._writers.discard)
        self.world.changes.notify()
        if query.get("v") != "10":
            self._close_with(connection, 4012)
        elif query.get("encoding", "json") != "json":
            self._close_with(connection, 4002)
        else:
            self._send(
                connection, {"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
            )
            await self._read(connection)
        await writer
        return ws

    async def _read(self, connection: GatewayConnection) -> None:
        async for message in connection.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                try:
                    payload = json.loads(message.data)
                except ValueError:
                    self._close_with(connection, 4002)
                    break
                if not isinstance(payload, dict):
                    self._close_with(connection, 4002)
                    break
                if not await self._received(connection, payload):
                    break
            elif message.type == aiohttp.WSMsgType.BINARY:
                self._close_with(connection, 4002)
                break
        if connection.ws.close_code is not None and connection.server_close_code is None:
            connection.client_close_code = connection.ws.close_code
        session = self.sessions.get(connection.session_id or "")
        if session is not None and session.connection is connection:
            session.connection = None
            if connection.client_close_code in (1000, 1001):
                session.invalidated = True
        connection.outbox.put_nowait(1000)  # wakes the writer, which stops if already closed
        self.world.changes.notify()

    async def _received(self, connection: GatewayConnection, payload: JsonDict) -> bool:
        """Handle one client payload; False once the connection is being closed."""
        op, data = payload.get("op"), payload.get("d")
        self.frames.append(GatewayFrame(connection.id, False, op, data))
        self.world.changes.notify()
        now = time.monotonic()
        connection.received = [t for t in connection.received if now - t < SEND_LIMIT[1]]
        connection.received.append(now)
        if len(connection.received) > SEND_LIMIT[0]:
            return self._close_with(connection, 4008)
        if op == HEARTBEAT:
            self._send(connection, {"op": HEARTBEAT_ACK, "d": None})
            return True
        if op == IDENTIFY:
            return self._identify(connection, data)
        if op == RESUME:
            return await self._resume(connection, data)
        if connection.session_id is None:
            return self._close_with(connection, 4003)
        if op == REQUEST_GUILD_MEMBERS:
            self._members_chunk(connection, data)
            return True
        if op in (PRESENCE_UPDATE, VOICE_STATE_UPDATE):
            return True
        return self._close_with(connection, 4001)

    def _identify(self, connection: GatewayConnection, data: Any) -> bool:
        if connection.session_id is not None:
            return self._close_with(connection, 4005)
        if not isinstance(data, dict) or data.get("token") != self.world.token:
            return self._close_with(connection, 4004)
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~ALL_INTENTS:
            return self._close_with(connection, 4013)
        for intent, flags in PRIVILEGED.items():
            if intents & intent and not self.application_flags & flags:
                return self._close_with(connection, 4014)
        shard = data.get("shard")
        if shard is not None and (
            not isinstance(shard, list) or len(shard) != 2 or not 0 <= shard[0] < shard[1]
        ):
            return self._close_with(connection, 4010)
        self.identifies += 1
        session = GatewaySession(f"{secrets.token_hex(16)}", intents, shard, connection=connection)
        self.sessions[session.id] = session
        connection.kind = "identify"
        connection.session_id = session.id
        self._dispatch_to(session, "READY", self._ready(session))
        if intents & GUILDS:
            for guild_id in self.world.guilds:
                self._dispatch_to(session, "GUILD_CREATE", self.guild_create(guild_id, intents))
        return True

    async def _resume(self, connection: GatewayConnection, data: Any) -> bool:
        connection.kind = "resume"
        self.world.changes.notify()
        await self._resume_gate.wait()
        if not isinstance(data, dict) or data.get("token") != self.world.token:
            return self._close_with(connection, 4004)
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or session.invalidated:
            self._send(connection, {"op": INVALID_SESSION, "d": False})
            return True
        seq = data.get("seq")
        if not isinstance(seq, int) or seq > session.seq:
            return self._close_with(connection, 4007)
        old = session.connection
        if old is not None and old is not connection and old.open:
            self._close_with(old, 4000)
        connection.session_id = session.id
        session.connection = connection
        for frame in session.events:
            if frame["s"] > seq:
                self._send(connection, frame, replayed=True)
        self._dispatch_to(session, "RESUMED", {"_trace": ["fake-discord-gateway"]})
        return True

    def _members_chunk(self, connection: GatewayConnection, data: Any) -> None:
        if not isinstance(data, dict):
            return
        guild = self.world.guilds.get(int(data.get("guild_id") or 0))
        if guild is None:
            return
        query = str(data.get("query") or "").lower()
        ids = {int(i) for i in data.get("user_ids") or []}
        limit = int(data.get("limit") or 0)
        members = [
            m
            for m in guild.members.values()
            if (not ids or m.user.id in ids) and m.user.username.lower().startswith(query)
        ]
        if limit:
            members = members[:limit]
        chunk: JsonDict = {
            "guild_id": str(guild.id),
            "members": [m.to_json() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if ids:
            chunk["not_found"] = [str(i) for i in ids - {m.user.id for m in members}]
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        session = self.sessions[str(connection.session_id)]
        self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)

    # -- payloads --------------------------------------------------------------------------

    def _ready(self, session: GatewaySession) -> JsonDict:
        user = self.world.bot.to_json()
        user.update(verified=True, mfa_enabled=False, email=None)
        ready: JsonDict = {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(g), "unavailable": True} for g in self.world.guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url,
            "application": {"id": str(self.world.application_id), "flags": self.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["fake"],
            "_trace": ["fake-discord-gateway"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        return ready

    def guild_create(self, guild_id: int, intents: int) -> JsonDict:
        """The GUILD_CREATE payload; without GUILD_PRESENCES only the bot's member is sent."""
        guild = self.world.guild(guild_id)
        channels = [self.world.channels[c] for c in guild.channel_ids]
        if intents & GUILD_PRESENCES:
            members = list(guild.members.values())
        else:
            members = [m for m in guild.members.values() if m.user.id == self.world.bot.id]
        data = guild.to_json()
        data.update(
            joined_at=iso(guild.members[self.world.bot.id].joined_at),
            large=False,
            unavailable=False,
            member_count=len(guild.members),
            voice_states=[],
            members=[m.to_json() for m in members],
            channels=[_without_guild_id(c.to_json()) for c in channels if not c.is_thread],
            threads=[c.to_json() for c in channels if c.is_thread and not c.archived],
            presences=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
            lazy=True,
        )
        return data

    # -- sending ---------------------------------------------------------------------------

    def _dispatch_to(self, session: GatewaySession, event: str, data: JsonDict) -> None:
        session.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.events.append(frame)
        if session.connection is not None and session.connection.open:
            self._send(session.connection, frame)

    def _send(
        self, connection: GatewayConnection, payload: JsonDict, *, replayed: bool = False
    ) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        self.frames.append(
            GatewayFrame(
                connection.id,
                True,
                payload.get("op"),
                payload.get("d"),
                payload.get("s"),
                payload.get("t"),
                replayed,
            )
        )
        if connection.compressor is not None:
            data = connection.compressor.compress(text.encode()) + connection.compressor.flush(
                zlib.Z_SYNC_FLUSH
            )
            connection.outbox.put_nowait(data)
        else:
            connection.outbox.put_nowait(text)
        self.world.changes.notify()

    def _close_with(self, connection: GatewayConnection, code: int) -> bool:
        connection.server_close_code = code
        connection.outbox.put_nowait(code)
        return False

    async def _write(self, connection: GatewayConnection) -> None:
        """Send queued frames in order; an int in the queue closes with that code."""
        while True:
            item = await connection.outbox.get()
            if connection.ws.closed:
                return
            try:
                if isinstance(item, int):
                    await connection.ws.close(code=item, message=_close_reason(item))
                    self.world.changes.notify()
                    return
                if isinstance(item, bytes):
                    await connection.ws.send_bytes(item)
                else:
                    await connection.ws.send_str(item)
            except (ConnectionError, RuntimeError):
                return

    def _live_connection(self) -> GatewayConnection:
        session = self.live
        if session is None or session.connection is None:
            raise RuntimeError("no client is connected to the fake gateway")
        return session.connection


def _without_guild_id(channel: JsonDict) -> JsonDict:
    """Channels inside GUILD_CREATE omit `guild_id`."""
    channel.pop("guild_id", None)
    return channel


def _close_reason(code: int) -> bytes:
    return {
        1000: b"",
        1001: b"",
        4000: b"Unknown error.",
        4001: b"Unknown opcode.",
        4002: b"Error while decoding payload.",
        4003: b"Not authenticated.",
        4004: b"Authentication failed.",
        4005: b"Already authenticated.",
        4007: b"Invalid seq.",
        4008: b"Rate limited.",
        4009: b"Session timed out.",
        4010: b"Invalid shard.",
        4011: b"Sharding required.",
        4012: b"Invalid API version.",
        4013: b"Invalid intent(s).",
        4014: b"Disallowed intent(s).",
    }.get(code, b"")
