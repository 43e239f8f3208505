"""The console chat: replies on stdout; at end of input it waits for its own runs only."""

from __future__ import annotations

import io
from pathlib import Path

from adapters.console.notifier import ConsoleNotifier
from adapters.console.session import ConsoleSession
from core.commands import CONSOLE_RULES
from tests.e2e.harness import world


async def test_session_waits_for_its_runs_not_older_ones(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        await bot.say("/txt2img left over from yesterday width=32 height=32")
        w.clock.advance(86_400)

        container = bot.container
        notifier = ConsoleNotifier(io.StringIO())
        out = io.StringIO()
        session = ConsoleSession(
            container.chat_service(CONSOLE_RULES),
            notifier,
            container.runs_store,
            container.clock,
            stdin=io.StringIO("/workflows\n\n/help txt2img\n"),
            out=out,
        )
        await session.run()

        text = out.getvalue()
        assert "/txt2img — " in text
        assert text.count("Workflows:") == 1
        assert "/txt2img <prompt> [key=value …]" in text
