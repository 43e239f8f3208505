"""The console chat: replies on stdout; at end of input it waits for its own runs only."""

from __future__ import annotations

import io
from pathlib import Path

from adapters.console.notifier import ConsoleNotifier
from adapters.console.session import ConsoleFront, ConsoleSession, console_words
from core.chat.commands import CONSOLE_RULES
from tests.e2e.harness import world
from tests.fakes.attachments import png


async def test_session_waits_for_its_runs_not_older_ones(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        await bot.say("/txt2img left over from yesterday width=32 height=32")
        w.clock.advance(86_400)

        container = bot.container
        words = console_words()
        notifier = ConsoleNotifier(words, io.StringIO())
        out = io.StringIO()
        session = ConsoleSession(
            ConsoleFront(container.chat_service(CONSOLE_RULES), words),
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


async def test_a_local_image_file_is_an_image_input(mongo_uri: str, tmp_path: Path) -> None:
    picture = tmp_path / "cat.png"
    picture.write_bytes(png((24, 12)))
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        assert await bot.say(f"/img2img make it blue input_image={picture}") is None
        run = await bot.last_run()
        assert str(run.inputs["input_image"]).startswith("http://127.0.0.1")
        assert run.backend_run_id is not None
        await w.sim.finish(run.backend_run_id)
        await bot.settle()
        assert "✅ Done" in bot.seen()

        missing = await bot.say(f"/img2img blue input_image={tmp_path / 'nope.png'}")
        assert missing is not None
        assert missing.text.startswith("There is no file ")
        assert missing.text.endswith("/nope.png.")  # however long the folder's path
        not_image = tmp_path / "notes.png"
        not_image.write_text("just words")
        refused = await bot.say(f"/img2img blue input_image={not_image}")
        assert refused is not None and "not an image I can use" in refused.text
        assert len(w.sim.runs.all()) == 1
