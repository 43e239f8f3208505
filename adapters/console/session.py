"""The console chat: one command per input line, replies on stdout.

At end of input it waits until every run it started has ended and been shown, then returns.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from adapters.console.notifier import ConsoleNotifier
from core.chat import ChatService
from core.models import ChatRef, DeliveryState
from core.ports import Clock, RunStore

CONSOLE_USER = ChatRef(platform="console", chat_id="console", user_id="local", user_name="you")
SETTLED = frozenset({DeliveryState.DELIVERED, DeliveryState.ABANDONED})


class ConsoleSession:
    def __init__(
        self,
        chat: ChatService,
        notifier: ConsoleNotifier,
        store: RunStore,
        clock: Clock,
        stdin: TextIO | None = None,
        out: TextIO | None = None,
    ) -> None:
        self._chat = chat
        self._notifier = notifier
        self._store = store
        now = clock.now()
        self._started = now.replace(microsecond=now.microsecond // 1000 * 1000)
        """To the millisecond, as the database keeps times."""
        self._in = stdin or sys.stdin
        self._out = out or sys.stdout

    async def run(self) -> None:
        interactive = self._in.isatty()
        if interactive:
            self._print("comfybot console. Try /workflows, /help <command>, or Ctrl-D to quit.")
        while True:
            if interactive:
                print("> ", end="", file=self._out, flush=True)
            line = await asyncio.to_thread(self._in.readline)
            if not line:
                break
            if not line.strip():
                continue
            reply = await self._chat.handle(line.strip(), CONSOLE_USER)
            if reply is not None:
                self._print(reply.text)
        await self.wait_for_runs()

    async def wait_for_runs(self) -> None:
        """Return once every run this session started has ended and its result was shown."""
        while await self._open_runs():
            self._notifier.result_shown.clear()
            if not await self._open_runs():
                return
            try:
                async with asyncio.timeout(1.0):
                    await self._notifier.result_shown.wait()
            except TimeoutError:
                continue

    async def _open_runs(self) -> int:
        runs = await self._store.recent(1000, user_key=CONSOLE_USER.user_key)
        mine = [run for run in runs if run.created_at >= self._started]
        return sum(1 for run in mine if run.delivery not in SETTLED)

    def _print(self, text: str) -> None:
        print(text, file=self._out, flush=True)
