"""The fault soak's HTTP API side: clients of the run API (README "HTTP run API") calling
through the same load balancer as Telegram and the backend, while the soak's faults happen.

Keys are made as an operator makes them, with `comfybot apikey create` against the soak's
database. Each run is asked for with an `Idempotency-Key`; a POST that failed (5xx, a dropped
connection: an instance killed, stopping, or the database away) is sent again with the same key,
as a client should. Some are sent twice on purpose: again to another instance once the first was
answered, or to two instances at once. Some are followed with `GET /api/v1/runs/{id}`, some with
the event stream (reconnecting when its instance goes away), and half name a `callback_url` on
a receiver here, which checks each callback's signature (Stripe-style, README "Callbacks").
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.e2e.fleet import ROOT
from tests.fakes.balancer import AVOID, UPSTREAM

RETRY_S = 0.25
"""A client's pause before it sends a failed request again."""
FOLLOW_EVERY_S = 1.0
"""How often a client following a run with GET asks again (a run still waiting shows its place
in line: each instance reads the queue for it at most once a second, however many ask)."""


@dataclass(frozen=True)
class Key:
    name: str
    token: str
    signing_secret: str


async def create_keys(env: dict[str, str], names: list[str], credits: int) -> list[Key]:
    """`comfybot apikey create <name> --credits N` for each name, against the database `env`
    names; the key and signing secret each printed once."""

    async def create(name: str) -> Key:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "apikey", "create", name, "--credits", str(credits),
            env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()[-2000:]
        printed = dict(
            line.strip().split(":", 1) for line in out.decode().splitlines() if ":" in line
        )
        return Key(name, printed["key"].strip(), printed["signing secret"].strip())

    return list(await asyncio.gather(*(create(name) for name in names)))


@dataclass
class Arrival:
    at: float
    """time.monotonic() when it arrived."""
    event: str
    body: dict[str, Any]
    signed: bool


@dataclass
class Callbacks:
    """A callback receiver on 127.0.0.1: every POST to `/cb/<run number>`, by event id."""

    secrets: dict[int, str] = field(default_factory=dict)
    """Each run number's key's signing secret."""
    arrivals: dict[int, list[Arrival]] = field(default_factory=dict)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/cb/{number}", self._receive)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        number = int(request.match_info["number"])
        body = await request.read()
        stamp = request.headers.get("X-Comfybot-Timestamp", "")
        expected = hmac.new(
            self.secrets[number].encode(), f"{stamp}.".encode() + body, hashlib.sha256
        ).hexdigest()
        signed = hmac.compare_digest(
            request.headers.get("X-Comfybot-Signature", ""), f"sha256={expected}"
        )
        event = request.headers.get("X-Comfybot-Event", "")
        arrival = Arrival(time.monotonic(), event, json.loads(body), signed)
        self.arrivals.setdefault(number, []).append(arrival)
        return web.Response(text="ok")


@dataclass
class ApiRun:
    """One run a client asks for, and everything it was answered."""

    number: int
    key: Key
    callback: bool
    accepted: list[tuple[str, str, bool]] = field(default_factory=list)
    """Each 202: (run id, the instance that answered, whether it said `Idempotent-Replayed`)."""
    failed_posts: int = 0
    followed: dict[str, Any] | None = None
    """The final run as the client following it saw it (GET or the event stream)."""
    reconnects: int = 0

    @property
    def idempotency_key(self) -> str:
        return f"soak-order-{self.number}"

    @property
    def id(self) -> str:
        return self.accepted[0][0]

    @property
    def retry(self) -> str:
        """How this run's POST is sent twice: `after` (to another instance once the first was
        answered), `racing` (to two at once) or not (`once`)."""
        return ("after", "racing", "once", "once")[self.number % 4]

    @property
    def follow(self) -> str:
        return ("get", "events", "none")[self.number % 3]


class ApiClients:
    def __init__(self, base: str, callbacks: Callbacks) -> None:
        self._base = base
        self._callbacks = callbacks
        self._http: aiohttp.ClientSession | None = None
        self.runs: list[ApiRun] = []

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, sock_read=30))

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def ask(self, keys: list[Key], count: int) -> None:
        """`count` more runs, spread over the keys, each asked for and followed to its end."""
        made = [
            ApiRun(n, keys[n % len(keys)], callback=n % 2 == 0)
            for n in range(len(self.runs), len(self.runs) + count)
        ]
        self.runs.extend(made)
        await asyncio.gather(*(self._run(run) for run in made))

    async def _run(self, run: ApiRun) -> None:
        body: dict[str, Any] = {"prompt": f"api soak {run.number}", "seed": run.number}
        if run.callback:
            self._callbacks.secrets[run.number] = run.key.signing_secret
            body["callback_url"] = f"{self._callbacks.url}/cb/{run.number}"
        if run.retry == "racing":
            await asyncio.gather(self._post(run, body), self._post(run, body))
        else:
            first = await self._post(run, body)
            if run.retry == "after":
                await self._post(run, body, avoid=first)
        if run.follow == "get":
            run.followed = await self._poll(run)
        elif run.follow == "events":
            run.followed = await self._events(run)

    def _auth(self, run: ApiRun) -> dict[str, str]:
        return {"Authorization": f"Bearer {run.key.token}"}

    async def _post(self, run: ApiRun, body: dict[str, Any], avoid: str | None = None) -> str:
        """Until answered 202 (sent again with the same Idempotency-Key after a failure); the
        instance that answered."""
        assert self._http is not None
        url = f"{self._base}/api/v1/workflows/txt2img/runs"
        headers = {**self._auth(run), "Idempotency-Key": run.idempotency_key}
        if avoid is not None:
            headers[AVOID] = avoid
        for _ in range(200):
            try:
                async with self._http.post(url, json=body, headers=headers) as reply:
                    answer = await reply.json(content_type=None)
                    if reply.status == 202:
                        replayed = reply.headers.get("Idempotent-Replayed") == "true"
                        upstream = reply.headers.get(UPSTREAM, "")
                        run.accepted.append((answer["id"], upstream, replayed))
                        return upstream
                    assert reply.status >= 500, (run.number, reply.status, answer)
            except (aiohttp.ClientError, TimeoutError, ValueError):
                pass
            run.failed_posts += 1
            await asyncio.sleep(RETRY_S)
        raise AssertionError(f"API run {run.number} was never accepted")

    async def _poll(self, run: ApiRun) -> dict[str, Any]:
        """GET the run until it is final (whichever instance answers)."""
        while True:
            view = await self.view(run)
            if view is not None and view["final"]:
                return view
            await asyncio.sleep(FOLLOW_EVERY_S)

    async def view(self, run: ApiRun) -> dict[str, Any] | None:
        """`GET /api/v1/runs/{id}` once; None if no instance could answer just now."""
        assert self._http is not None
        url = f"{self._base}/api/v1/runs/{run.id}"
        try:
            async with self._http.get(url, headers=self._auth(run)) as reply:
                if reply.status >= 500:
                    return None
                assert reply.status == 200, (run.number, reply.status)
                return dict(await reply.json())
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def _events(self, run: ApiRun) -> dict[str, Any]:
        """The event stream until its `result`, connecting again when it ends without one."""
        assert self._http is not None
        url = f"{self._base}/api/v1/runs/{run.id}/events"
        while True:
            try:
                async with self._http.get(url, headers=self._auth(run)) as reply:
                    if reply.status == 200:
                        result = await _read_result(reply)
                        if result is not None:
                            return result
            except (aiohttp.ClientError, TimeoutError, ValueError):
                pass
            run.reconnects += 1
            await asyncio.sleep(RETRY_S)

    async def output(self, run: ApiRun, url: str) -> bytes:
        """An output's bytes from its URL (the file the bot saved, or the backend's copy that
        another instance redirects to)."""
        assert self._http is not None
        async with self._http.get(url, headers=self._auth(run)) as reply:
            assert reply.status == 200, (run.number, url, reply.status)
            return await reply.read()


async def _read_result(reply: aiohttp.ClientResponse) -> dict[str, Any] | None:
    """The data of the stream's `event: result`, or None if the stream ended before it."""
    kind = None
    async for raw in reply.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: ") and kind == "result":
            return dict(json.loads(line.removeprefix("data: ")))
        elif line == "":
            kind = None
    return None
