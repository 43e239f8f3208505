"""A Discord user runs workflows end to end: discord.py over HTTP and WebSocket to the fake
Discord, the simulator as the backend, the embedded database in between."""

from __future__ import annotations

from pathlib import Path

from core.models import RunStatus
from tests.e2e.harness import world
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_e2e import MESSAGES, ORIGINAL, Lab, discord_bot


async def test_a_slash_command_runs_to_attachments_in_its_thread(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        world(mongo_uri, tmp_path) as w,
        FakeDiscord(clock=w.clock) as fake,
    ):
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as dc:
            record = fake.slash_command(
                "txt2img",
                {"prompt": "a red fox", "seed": 7, "width": 32, "height": 32},
                channel=lab.thread,
                user=lab.ann,
            )
            response = await fake.wait_for_response(record)
            assert response.type == 5 and response.ephemeral
            await dc.wait_handled(1)
            run = await dc.run_for(record)
            assert run.inputs["prompt"] == "a red fox" and run.inputs["seed"] == 7
            assert (run.chat.chat_id, run.chat.user_id) == (str(lab.thread.id), str(lab.ann.id))

            status = fake.interactions.original(record)
            assert status.ephemeral and run.id in status.content
            assert status.custom_ids == [f"cancel:{run.id}"]
            for _ in range(4):  # queued, started, running 20 %, 40 %
                await dc.advance(run)
            assert "▰▰▰▰▱▱▱▱▱▱ 40%" in status.content

            await dc.finish(run)
            [result] = dc.posted(lab.thread)
            assert len(result.filenames) == 1 and result.filenames[0].endswith(".png")
            assert result.mention_ids == [lab.ann.id]
            assert result.content.startswith(f"<@{lab.ann.id}> ✅ Done · txt2img · run {run.id}")
            assert "⏱" in result.content and "💰" in result.content and "🌱 7" in result.content
            assert result.custom_ids == [f"rerun:{run.id}"]
            sent = fake.calls(MESSAGES)[-1]
            assert sent.params["channel_id"] == str(lab.thread.id)
            assert sent.body["enforce_nonce"] is True and len(sent.body["nonce"]) <= 25
            assert "✅ Done" in status.content and status.custom_ids == []
            stored = await dc.run_for(record)
            assert stored.status is RunStatus.SUCCESS
            assert stored.progress_message_id == str(status.id)
            assert dc.posted(lab.channel) == []
            assert len(fake.calls(ORIGINAL)) >= 5
