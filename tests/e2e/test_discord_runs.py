"""A Discord user runs workflows end to end: discord.py over HTTP and WebSocket to the fake
Discord, the simulator as the backend, the embedded database in between."""

from __future__ import annotations

from pathlib import Path

from core.credits import charge_for, format_credits
from core.models import EventSource, RunEvent, RunStatus
from tests.e2e.harness import world
from tests.fakes.discord_api import FakeDiscord, UploadFile
from tests.fakes.discord_e2e import MESSAGES, ORIGINAL, Lab, discord_bot
from tests.fakes.telegram_kit import png_bytes


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
            assert "⏱" in result.content and "💰" in result.content
            assert result.content.count("🌱 7") == 1
            assert [(b["label"], b["custom_id"]) for b in result.buttons] == [
                ("🔁 Reroll", f"reroll:{run.id}"),
                ("♻️ Same seed", f"same:{run.id}"),
                ("📜 Recipe", f"recipe:{run.id}"),
            ]
            sent = fake.calls(MESSAGES)[-1]
            assert sent.params["channel_id"] == str(lab.thread.id)
            assert sent.body["enforce_nonce"] is True and len(sent.body["nonce"]) <= 25
            assert "✅ Done" in status.content and status.custom_ids == []
            stored = await dc.run_for(record)
            assert stored.status is RunStatus.SUCCESS
            assert stored.progress_message_id == str(status.id)
            assert dc.posted(lab.channel) == []
            assert len(fake.calls(ORIGINAL)) >= 5


async def test_bad_values_get_an_ephemeral_reply_naming_the_option(
    mongo_uri: str, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.yaml"
    styles = ", ".join(f"style{n:02d}" for n in range(30))
    catalog.write_text(
        f"workflows:\n  txt2img:\n    inputs:\n      style:\n        choices: [{styles}]\n"
    )
    async with (
        world(mongo_uri, tmp_path, catalog_file=catalog, max_input_image_mb=0.001) as w,
        FakeDiscord(clock=w.clock) as fake,
    ):
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as dc:
            txt2img = fake.commands.find("txt2img", None)
            assert txt2img is not None
            steps = next(o for o in txt2img["options"] if o["name"] == "steps")
            del steps["max_value"]  # Discord still holds a definition from before a change
            style = next(o for o in txt2img["options"] if o["name"] == "style")
            assert style["autocomplete"] is True and "choices" not in style

            typing = fake.autocomplete(
                "txt2img",
                {"prompt": "x", "style": "STYLE1"},
                "style",
                channel=lab.channel,
                user=lab.ann,
            )
            await fake.wait_for_response(typing)
            assert [c["value"] for c in typing.choices] == [f"style1{n}" for n in range(10)]

            record = fake.slash_command(
                "txt2img",
                {"prompt": "a cat", "steps": 99, "style": "sepia"},
                channel=lab.channel,
                user=lab.ann,
            )
            reply = await dc.reply(record, 1)
            assert reply.ephemeral
            lines = reply.content.splitlines()
            assert lines[0] == "• `steps` must be between 1 and 50, not 99."
            assert lines[1].startswith("• `style` must be one of: style00, style01")

            big = fake.slash_command(
                "img2img",
                {"prompt": "x", "input_image": UploadFile(png_bytes(400, 400), "big.png")},
                channel=lab.channel,
                user=lab.ann,
            )
            reply = await dc.reply(big, 2)
            assert (
                reply.ephemeral and reply.content == "• That image is too large: at most 0.001 MB."
            )
            assert await dc.engine.container.runs_store.recent(10) == []


async def test_an_attachment_option_is_checked_from_its_bytes(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as dc:
            fake_png = UploadFile(b"GIF? no, just text", "cat.png")
            bad = fake.slash_command(
                "img2img",
                {"prompt": "x", "input_image": fake_png},
                channel=lab.channel,
                user=lab.ann,
            )
            reply = await dc.reply(bad, 1)
            assert reply.content == (
                "• That file is not an image I can use (PNG, JPEG, WebP or GIF)."
            )
            assert await dc.engine.container.runs_store.recent(10) == []  # nothing ran
            good = fake.slash_command(
                "img2img",
                {"prompt": "in ink", "input_image": UploadFile(png_bytes(), "cat.png")},
                channel=lab.channel,
                user=lab.ann,
            )
            await dc.wait_handled(2)
            run = await dc.run_for(good)
            assert run.inputs["prompt"] == "in ink"
            assert str(run.inputs["input_image"]).startswith(w.sim.root_url)
            await dc.finish(run)
            assert dc.posted(lab.channel)[-1].mention_ids == [lab.ann.id]


async def test_in_a_dm_a_batch_comes_in_one_message_and_too_large_files_as_links(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        dm = fake.add_dm(lab.ann)
        async with discord_bot(w, fake) as dc:
            batch = {"prompt": "three owls", "batch_size": 3, "width": 32, "height": 32}
            record = fake.slash_command("txt2img", batch, channel=dm, user=lab.ann)
            await dc.wait_handled(1)
            await dc.finish(await dc.run_for(record))
            [result] = dc.posted(dm)
            assert len(result.filenames) == 3 and result.mention_ids == [lab.ann.id]

            small = fake.slash_command(
                "txt2img",
                {"prompt": "one owl", "width": 32, "height": 32},
                channel=lab.channel,
                user=lab.ann,
                attachment_size_limit=100,
            )
            await dc.wait_handled(2)
            run = await dc.run_for(small)
            await dc.finish(run)
            [linked] = dc.posted(lab.channel)
            assert linked.filenames == []
            assert "Too large to send here:" in linked.content and w.sim.root_url in linked.content
            assert linked.custom_ids == [f"reroll:{run.id}", f"same:{run.id}", f"recipe:{run.id}"]


async def test_a_result_shows_its_run_time_price_and_the_balance_left(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        world(mongo_uri, tmp_path, shared_clock=True, new_user_credits=10.0) as w,
        FakeDiscord(clock=w.clock) as fake,
    ):
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as dc:
            record, run = await dc.start_txt2img("a fox", lab.channel, lab.ann)
            assert run.backend_run_id is not None
            await dc.advance(run)
            w.clock.advance(40)
            await dc.finish(run)
            ended = await dc.run_for(record)
            charge = charge_for(ended)
            balance = await dc.engine.container.accounts.balance(ended.chat.user_key)
            assert charge > 0 and balance.available == 1000 - charge
            left = format_credits(1000 - charge)
            facts = f"⏱ 40.0s · 💰 {format_credits(charge)} credits · {left} left"
            [result] = dc.posted(lab.channel)
            assert facts in result.content
            status = fake.interactions.original(record)
            assert facts in status.content


async def test_a_failed_run_is_announced_once_in_the_backends_words(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as dc:
            record, run = await dc.start_txt2img("a fox", lab.channel, lab.ann)
            assert run.backend_run_id is not None
            error = "Error executing KSampler: CUDA out of memory (tried to allocate 2 GiB)"
            failed = RunEvent(
                backend_run_id=run.backend_run_id,
                status=RunStatus.FAILED,
                source=EventSource.WEBHOOK,
                error=error,
            )
            await dc.engine.container.tracker.apply(run.id, failed)
            await dc.engine.settle()
            [notice] = dc.posted(lab.channel)
            assert notice.mention_ids == [lab.ann.id]
            assert notice.content.startswith(f"<@{lab.ann.id}> ❌ Failed · txt2img · run {run.id}")
            status = fake.interactions.original(record)
            pointer = "It ended: why is said in the channel. https://discord.com/channels/"
            assert status.content.startswith(pointer) and status.content.endswith(f"/{notice.id}")
            said = f"The backend said: {error}"
            everything = [m.content for m in dc.posted(lab.channel)] + [status.content]
            assert sum(text.count(said) for text in everything) == 1
            assert sum(text.count("❌ Failed") for text in everything) == 1
