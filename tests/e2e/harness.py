"""The whole engine for end-to-end tests: the ComfyDeploy simulator (manual pacing), the
embedded database, the webhook server and a console chat whose output is what the user sees.

Nothing sleeps: the simulator's `advance`/`finish` return once their webhooks were handled, and
`settle()` waits for the follow-up work (progress edits, deliveries) those webhooks started.
"""

from __future__ import annotations

import io
import socket
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from adapters.comfydeploy import ComfyDeployBackend, ComfyDeployClient
from adapters.console.notifier import ConsoleNotifier
from adapters.console.session import CONSOLE_USER, ConsoleFront, console_words
from adapters.simulator import SimulatorServer
from bot.container import Container, build_container
from bot.settings import Settings
from core.chat.commands import CONSOLE_RULES
from core.chat.run_images import RunImages
from core.chat.service import ChatService
from core.chat.text_render import TextReply
from core.delivery import DeliveryPolicy
from core.models import ChatRef, Run
from core.ports import ChatNotifier, WorkflowBackend
from core.requests import Attachment
from tests.fakes.clock import FakeClock

ADMIN = ChatRef(platform="console", chat_id="console", user_id="local", user_name="you")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Engine:
    """One running bot process (a container) plus what the console user saw."""

    container: Container
    out: io.StringIO
    front: ConsoleFront

    @property
    def chat(self) -> ChatService:
        return self.front.chat

    async def say(
        self, line: str, who: ChatRef = CONSOLE_USER, images: Iterable[Attachment] = ()
    ) -> TextReply | None:
        reply = await self.front.say(line, who, tuple(images))
        await self.settle()
        return reply

    async def settle(self) -> None:
        await self.container.delivery.drain()

    async def last_run(self) -> Run:
        runs = await self.container.runs_store.recent(1)
        assert runs, "no run was recorded"
        return runs[0]

    def seen(self) -> str:
        return self.out.getvalue()


@dataclass
class World:
    """The simulator, settings shared by every engine started on the same database, and a clock."""

    sim: SimulatorServer
    settings: Settings
    clock: FakeClock
    engines: list[Engine] = field(default_factory=list)
    retry_waits: list[float] = field(default_factory=list)
    """Waits the ComfyDeploy client asked for between retries (recorded, not slept)."""

    async def _record_wait(self, seconds: float) -> None:
        self.retry_waits.append(seconds)

    def simulated(self, sim: SimulatorServer, name: str = "comfydeploy") -> ComfyDeployBackend:
        """A ComfyDeploy backend called `name` on a simulator (retry waits recorded)."""
        client = ComfyDeployClient(
            sim.base_url,
            "sim-key",
            timeout_s=self.settings.comfydeploy_timeout_seconds,
            sleep=self._record_wait,
        )
        return ComfyDeployBackend(client, name)

    @asynccontextmanager
    async def engine(
        self,
        notifiers: Iterable[ChatNotifier] = (),
        http: bool = True,
        backends: Sequence[WorkflowBackend] | None = None,
        clock: FakeClock | None = None,
        delivery_policy: DeliveryPolicy | None = None,
        settle: bool = True,
    ) -> AsyncIterator[Engine]:
        """One bot process. Several may run on the world's database at once (only one with
        `http`: they would share its port); `clock` gives one its own (skewed) time."""
        out = io.StringIO()
        words = console_words()
        console = ConsoleNotifier(words, out)
        container = await build_container(
            self.settings,
            backends=backends if backends is not None else [self.simulated(self.sim)],
            clock=clock or self.clock,
            notifiers=[console, *notifiers],
            delivery_policy=delivery_policy or DeliveryPolicy(progress_interval_s=0),
        )
        try:
            if http:
                await container.start_http()
            await container.start_engine(settle=settle)
            images = RunImages(container.runs_store, container.finder, container.files)
            front = ConsoleFront(container.chat_service(CONSOLE_RULES), words, console, images)
            engine = Engine(container, out, front)
            self.engines.append(engine)
            yield engine
            await engine.settle()
        finally:
            await container.close()


@asynccontextmanager
async def world(
    mongo_uri: str,
    tmp_path: Path,
    *,
    webhooks: bool = True,
    shared_clock: bool = False,
    **overrides: Any,
) -> AsyncIterator[World]:
    """`shared_clock`: the simulator keeps the test's fake time too (its run timestamps then
    move only when the test moves the clock)."""
    clock = FakeClock()
    sim = SimulatorServer(
        mode="manual",
        webhook_backoff=(0.0, 0.0),
        webhook_timeout=5.0,
        **({"clock": clock.now} if shared_clock else {}),
    )
    await sim.start()
    port = free_port()
    for name in ("empty.catalog.yaml", "empty.routing.yaml"):
        (tmp_path / name).write_text("")
    values: dict[str, Any] = {
        "comfydeploy_api_url": sim.base_url,
        "comfydeploy_api_key": SecretStr("sim-key"),
        "mongodb_uri": SecretStr(mongo_uri),
        "mongodb_db": f"e2e_{uuid.uuid4().hex[:12]}",
        "data_dir": tmp_path,
        "http_port": port,
        "public_base_url": f"http://127.0.0.1:{port}" if webhooks else None,
        "catalog_file": tmp_path / "empty.catalog.yaml",
        "routing_file": tmp_path / "empty.routing.yaml",
        "admin_ids": frozenset({ADMIN.user_key}),
        "webhook_secret": SecretStr("e2e-webhook-secret"),
        # Generous: tests of credits and limits set their own.
        "new_user_credits": 1000.0,
        "max_running_per_user": 50,
        "max_queued_per_user": 50,
        "max_running_per_deployment": 0,
        "rate_limit_per_user": 0,
        **overrides,
    }
    settings = Settings.model_construct(**{**Settings().model_dump(), **values})
    try:
        yield World(sim, settings, clock)
    finally:
        await sim.stop()
