"""Every button on old messages after a restart (Cancel, Reroll, Same seed, Upscale, Vary,
Recipe, Show), the gateway proxy on resumes, both platforms in one process, and the tokens kept
out of the logs."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from core.chat.content import RunAccepted
from core.models import RunStatus
from tests.e2e.harness import world
from tests.fakes.discord_api import FakeDiscord, InteractionRecord, StoredMessage
from tests.fakes.discord_e2e import ORIGINAL, Lab, discord_bot
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_e2e import USER_ID, telegram_bot

PROMPT = {"prompt": "a heron", "width": 32, "height": 32}
FOLLOW_UPS = "workflows:\n  txt2img:\n    upscale_with: upscale\n    vary_with: img2img\n"


async def test_cancel_and_rerun_buttons_work_after_a_restart(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as first:
            done = fake.slash_command("txt2img", PROMPT, channel=lab.channel, user=lab.ann)
            await first.wait_handled(1)
            original = await first.run_for(done)
            await first.finish(original)
            running = fake.slash_command("txt2img", PROMPT, channel=lab.channel, user=lab.ann)
            await first.wait_handled(2)
            unfinished = await first.run_for(running)
            await first.advance(unfinished)
        [result] = [m for m in fake.messages_in(lab.channel) if not m.ephemeral]
        status = fake.interactions.original(running)
        assert status.custom_ids == [f"cancel:{unfinished.id}"]

        async with discord_bot(w, fake) as second:
            stranger = fake.add_user("bob")
            fake.add_member(lab.guild, stranger)
            refused = fake.press_button(status, f"cancel:{unfinished.id}", user=stranger)
            reply = await second.reply(refused, 1)
            # Someone else's run reads like one that does not exist (see core/chat/run_refs.py).
            assert reply.ephemeral and reply.content == f"I know no run {unfinished.id} of yours."

            press = fake.press_button(status, f"cancel:{unfinished.id}", user=lab.ann)
            reply = await second.reply(press, 2)
            assert press.response is not None and press.response.type == 5
            assert reply.ephemeral and reply.content == f"Run {unfinished.id}: 🚫 Cancelled."
            await w.sim.drain_webhooks()
            await second.engine.settle()
            assert (await second.run_for(running)).status is RunStatus.CANCELLED
            notice = second.posted(lab.channel)[-1]
            assert notice.content.startswith(f"<@{lab.ann.id}> 🚫 Cancelled")
            assert notice.custom_ids == [
                f"reroll:{unfinished.id}",
                f"same:{unfinished.id}",
                f"recipe:{unfinished.id}",
            ]

            # ♻️ Same seed is the old Rerun: the exact same inputs, seed included.
            assert result.custom_ids[:2] == [f"reroll:{original.id}", f"same:{original.id}"]
            again = fake.press_button(result, f"same:{original.id}", user=stranger)
            assert isinstance(await second.wait_handled(3), RunAccepted)
            rerun = await second.run_for(again)
            assert rerun.rerun_of == original.id and rerun.inputs == original.inputs
            assert rerun.origin == f"discord:{again.id}"  # one press, one run
            assert rerun.chat.user_id == str(stranger.id)  # anyone in the channel may rerun
            answer = await fake.wait_for(lambda: fake.interactions.original(again).custom_ids)
            assert answer == [f"cancel:{rerun.id}"]
            await second.finish(rerun)
            assert second.posted(lab.channel)[-1].mention_ids == [stranger.id]

            # 🔁 Reroll: the same inputs with a new seed.
            reroll = fake.press_button(result, f"reroll:{original.id}", user=lab.ann)
            assert isinstance(await second.wait_handled(4), RunAccepted)
            rerolled = await second.run_for(reroll)
            assert rerolled.rerun_of == original.id and rerolled.origin == f"discord:{reroll.id}"
            assert rerolled.inputs["seed"] != original.inputs["seed"]
            assert {**rerolled.inputs, "seed": 0} == {**original.inputs, "seed": 0}


async def test_upscale_vary_recipe_and_show_buttons_work_after_a_restart(
    mongo_uri: str, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(FOLLOW_UPS)
    async with (
        world(mongo_uri, tmp_path, catalog_file=catalog) as w,
        FakeDiscord(clock=w.clock) as fake,
    ):
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as first:
            command = {**PROMPT, "seed": 3, "steps": 12}
            done = fake.slash_command("txt2img", command, channel=lab.thread, user=lab.ann)
            await first.wait_handled(1)
            original = await first.run_for(done)
            await first.finish(original)
            original = await first.run_for(done)
            listing = await first.reply(
                fake.slash_command("runs", channel=lab.channel, user=lab.ann), 2
            )
        [result] = first.posted(lab.thread)
        assert [b["label"] for b in result.buttons] == [
            "🔁 Reroll",
            "♻️ Same seed",
            "⬆️ Upscale",
            "🔀 Vary",
            "📜 Recipe",
        ]
        assert listing.ephemeral and listing.content.startswith(
            f"Your last runs:\n{original.id} ✅ Done · txt2img · "
        )
        assert listing.content.endswith("Show one again: `/show run:`")
        assert [(b["label"], b["custom_id"]) for b in listing.buttons] == [
            (f"🖼 {original.id[:6]}", f"show:{original.id}")
        ]

        async with discord_bot(w, fake) as second:
            bob = fake.add_user("bob")
            fake.add_member(lab.guild, bob)

            upscale = fake.press_button(result, f"upscale:{original.id}", user=bob)
            assert isinstance(await second.wait_handled(1), RunAccepted)
            upscaled = await second.run_for(upscale)
            assert upscaled.workflow == "upscale"
            assert "/inputs/" in str(upscaled.inputs["input_image"])  # uploaded, not linked
            assert upscaled.origin == f"discord:{upscale.id}"
            await second.finish(upscaled)
            assert second.posted(lab.thread)[-1].mention_ids == [bob.id]

            vary = fake.press_button(result, f"vary:{original.id}", user=bob)
            assert isinstance(await second.wait_handled(2), RunAccepted)
            varied = await second.run_for(vary)
            assert varied.workflow == "img2img" and varied.origin == f"discord:{vary.id}"
            assert varied.inputs["prompt"] == "a heron"
            assert "/inputs/" in str(varied.inputs["input_image"])  # the image, uploaded

            press = fake.press_button(result, f"recipe:{original.id}", user=bob)
            card = await second.reply(press, 3)
            [embed] = card.data["embeds"]
            assert card.ephemeral and embed["title"] == f"📜 Recipe of run {original.id}"
            assert "Prompt: a heron" in embed["description"]
            assert embed["description"].endswith(
                "```\n/txt2img prompt:a heron steps:12 width:32 height:32 seed:3\n```"
            )
            assert card.custom_ids == [f"same:{original.id}"]
            same = fake.press_button(card, f"same:{original.id}", user=bob)
            assert isinstance(await second.wait_handled(4), RunAccepted)
            assert (await second.run_for(same)).inputs == original.inputs

            # 🖼 on the list of runs: the result again, files and buttons, where the list is.
            show = fake.press_button(listing, f"show:{original.id}", user=lab.ann)
            await second.wait_handled(5)
            [shown] = await fake.wait_for(lambda: second.posted(lab.channel))
            assert shown.content.startswith(
                f"<@{lab.ann.id}> ✅ Done · txt2img · run {original.id}"
            )
            assert len(shown.filenames) == 1
            assert shown.file(shown.filenames[0]) == result.file(result.filenames[0])
            assert shown.custom_ids == result.custom_ids
            assert shown.mention_ids == []  # asked for, so nobody is pinged
            response = await fake.wait_for(lambda: _answered(fake, show))
            assert response.ephemeral and response.content.startswith("✅ Done · txt2img")
            assert "The result is in the channel." in response.content
            assert response.content.endswith(f"/{lab.channel.id}/{shown.id}")  # a link to it

            stored = await second.run_for(done)
            assert stored.delivery_parts == original.delivery_parts  # not a redelivery


async def test_resumes_go_through_the_configured_gateway(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as dc:
            assert fake.resume_gateway_url != fake.gateway_url
            fake.gateway.reconnect()
            await fake.wait_for(lambda: fake.gateway.dispatched("RESUMED"))
            record = fake.slash_command("workflows", channel=lab.channel, user=lab.ann)
            reply = await dc.reply(record, 1)
            assert reply.data["embeds"][0]["title"] == "Workflows:"
        assert [(c.path, c.kind) for c in fake.gateway.connections] == [
            ("/gateway", "identify"),
            ("/gateway", "resume"),
        ]


async def test_both_platforms_on_one_engine_each_get_their_own_results(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as telegram,
        world(mongo_uri, tmp_path) as w,
        FakeDiscord(clock=w.clock) as fake,
        telegram_bot(w, telegram) as tg,
        discord_bot(w, fake, engine=tg.engine) as dc,
    ):
        lab = Lab.build(fake)
        command = telegram.send_text(5, USER_ID, "/txt2img a crane width=32 height=32")
        await tg.wait_handled(1)
        record = fake.slash_command("txt2img", PROMPT, channel=lab.channel, user=lab.ann)
        await dc.wait_handled(1)
        on_telegram, on_discord = await tg.run_for(command), await dc.run_for(record)
        await dc.finish(on_discord)
        await tg.finish(on_telegram)
        assert len(telegram.sent("sendPhoto", 5)) == 1
        [posted] = dc.posted(lab.channel)
        assert on_discord.id in posted.content and on_telegram.id not in posted.content
        assert on_telegram.id in (telegram.sent("sendPhoto", 5)[0].text or "")


async def test_the_tokens_never_reach_the_logs(
    mongo_uri: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as dc:
            record = fake.slash_command("txt2img", PROMPT, channel=lab.channel, user=lab.ann)
            await dc.wait_handled(1)
            await dc.finish(await dc.run_for(record))
    assert fake.calls(ORIGINAL) and "<discord-token>" in caplog.text  # masked where it was
    assert fake.token not in caplog.text
    assert record.token not in caplog.text


async def test_two_instances_on_one_token_handle_each_interaction_once(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as first, discord_bot(w, fake, http=False) as second:
            record = fake.slash_command("txt2img", PROMPT, channel=lab.channel, user=lab.ann)
            assert record.delivered
            await fake.wait_for(lambda: len(record.callbacks) == 2)
            assert sorted(c.status for c in record.callbacks) == [200, 400]  # 40060 for one
            waits = {asyncio.create_task(b.wait_handled(1)) for b in (first, second)}
            done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            assert len(done) == 1
            assert len(first.chat.handled) + len(second.chat.handled) == 1
            bot = first if first.chat.handled else second
            await bot.finish(await bot.run_for(record))
            await first.engine.settle()
            await second.engine.settle()
            assert len(bot.posted(lab.channel)) == 1


def _answered(fake: FakeDiscord, record: InteractionRecord) -> StoredMessage | None:
    """The response to an interaction, once it says something."""
    response = fake.interactions.original(record)
    return response if response.content else None
