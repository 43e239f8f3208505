"""What a Discord user expects beyond running a workflow: answers, statuses and results in their
own client language (the interaction's `locale`), `/runs`, `/show` posting a result again with
its files and buttons, and `/recipe` giving a command to paste."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import world
from tests.fakes.discord_api import FakeDiscord, InteractionRecord, StoredMessage
from tests.fakes.discord_e2e import MESSAGES, Lab, discord_bot
from tests.fakes.discord_errors import missing_permissions

SMALL = {"width": 32, "height": 32}


def answered(fake: FakeDiscord, record: InteractionRecord) -> StoredMessage | None:
    """The response to an interaction, once it says something."""
    response = fake.interactions.original(record)
    return response if response.content or response.data.get("embeds") else None


async def test_each_user_is_answered_in_their_clients_language(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        ana = fake.add_user("ana", "Ana")
        hans = fake.add_user("hans", "Hans")
        fake.add_member(lab.guild, ana)
        fake.add_member(lab.guild, hans)
        async with discord_bot(w, fake) as dc:
            listing = fake.slash_command(
                "workflows", channel=lab.channel, user=lab.ann, locale="ru"
            )
            embed = (await dc.reply(listing, 1)).data["embeds"][0]
            assert embed["title"] == "Сценарии:"
            assert (
                "`/img2img` — Image to image (simulated) (нужно изображение)"
                in (embed["description"])
            )
            general = fake.slash_command("help", channel=lab.channel, user=ana, locale="es-ES")
            embed = (await dc.reply(general, 2)).data["embeds"][0]
            assert embed["title"] == "Comandos:"
            assert "`/status run:` — cómo va una ejecución" in embed["description"]
            german = fake.slash_command("help", channel=lab.channel, user=hans, locale="de")
            assert (await dc.reply(german, 3)).data["embeds"][0]["title"] == "Commands:"

            txt2img = fake.commands.find("txt2img", None)
            assert txt2img is not None
            steps = next(o for o in txt2img["options"] if o["name"] == "steps")
            del steps["max_value"]  # Discord still holds a definition from before a change
            bad = fake.slash_command(
                "txt2img",
                {"prompt": "x", "steps": 99},
                channel=lab.channel,
                user=ana,
                locale="es-419",
            )
            reply = await dc.reply(bad, 4)
            assert reply.content == "• `steps` debe estar entre 1 y 50, no 99."

            command = fake.slash_command(
                "txt2img",
                {"prompt": "лиса", "seed": 5, **SMALL},
                channel=lab.channel,
                user=lab.ann,
                locale="ru",
            )
            await dc.wait_handled(5)
            run = await dc.run_for(command)
            assert run.chat.language == "ru"
            status = fake.interactions.original(command)
            assert status.content.startswith(f"⏳ Запускается · txt2img · запуск {run.id}")
            assert [b["label"] for b in status.buttons] == ["✖ Отменить"]
            await dc.finish(run)
            [result] = dc.posted(lab.channel)
            assert result.content.startswith(f"<@{lab.ann.id}> ✅ Готово · txt2img · запуск")
            assert [b["label"] for b in result.buttons] == [
                "🔁 Ещё вариант",
                "♻️ Тот же seed",
                "📜 Рецепт",
            ]
            assert "Результат — в канале." in status.content

            # Ana (Spanish) asks for Ann's result, shown in this channel, again: in her words.
            show = fake.slash_command(
                "show", {"run": run.id}, channel=lab.channel, user=ana, locale="es-ES"
            )
            await dc.wait_handled(6)
            await fake.wait_for(lambda: len(dc.posted(lab.channel)) == 2)
            _, again = dc.posted(lab.channel)
            assert again.content.startswith(f"<@{lab.ann.id}> ✅ Hecho · txt2img · ejecución")
            assert [b["label"] for b in again.buttons] == [
                "🔁 Otra versión",
                "♻️ Mismo seed",
                "📜 Receta",
            ]
            assert again.custom_ids == result.custom_ids and len(again.filenames) == 1
            response = await fake.wait_for(lambda: answered(fake, show))
            assert "El resultado está en el canal." in response.content


async def test_runs_show_and_recipe_commands(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as dc:
            options = {"prompt": "an owl, ink", "steps": 30, "hires": True, "seed": 11, **SMALL}
            command = fake.slash_command("txt2img", options, channel=lab.channel, user=lab.ann)
            await dc.wait_handled(1)
            run = await dc.run_for(command)
            await dc.finish(run)
            run = await dc.run_for(command)

            listing = fake.slash_command("runs", {"count": 5}, channel=lab.channel, user=lab.ann)
            reply = await dc.reply(listing, 2)
            lines = reply.content.splitlines()
            assert reply.ephemeral and lines[0] == "Your last runs:"
            assert lines[1].startswith(f"{run.id} ✅ Done · txt2img · ")
            assert lines[-1] == "Show one again: `/show run:`"
            assert reply.custom_ids == [f"show:{run.id}"]

            recipe = fake.slash_command(
                "recipe", {"run": run.id[:6]}, channel=lab.channel, user=lab.ann
            )
            card = await dc.reply(recipe, 3)
            [embed] = card.data["embeds"]
            assert embed["title"] == f"📜 Recipe of run {run.id}"
            assert "Prompt: an owl, ink" in embed["description"]
            assert "🌱 11" in embed["description"]
            line = "/txt2img prompt:an owl, ink steps:30 width:32 height:32 hires:true seed:11"
            assert embed["description"].endswith(f"```\n{line}\n```")
            assert card.custom_ids == [f"same:{run.id}"]

            show = fake.slash_command(
                "show", {"run": run.id[:8]}, channel=lab.thread, user=lab.ann
            )
            await dc.wait_handled(4)
            [again] = await fake.wait_for(lambda: dc.posted(lab.thread))
            assert again.content.startswith(f"<@{lab.ann.id}> ✅ Done · txt2img · run {run.id}")
            assert again.content.count("🌱 11") == 1
            assert again.file(again.filenames[0]) == dc.posted(lab.channel)[0].file(
                dc.posted(lab.channel)[0].filenames[0]
            )
            assert again.mention_ids == []
            await fake.wait_for(lambda: answered(fake, show))
            stored = await dc.run_for(command)
            assert stored.delivery_parts == run.delivery_parts  # a repost records nothing

            fake.fail_next(MESSAGES, error=missing_permissions())  # the bot may not post there
            refused = fake.slash_command("show", {"run": run.id}, channel=lab.thread, user=lab.ann)
            reply = await dc.reply(refused, 5)
            assert reply.ephemeral
            assert reply.content.startswith("Sorry, something went wrong on my side (ref ")
            assert len(dc.posted(lab.thread)) == 1

            stranger = fake.add_user("eve")
            fake.add_member(lab.guild, stranger)
            dm = fake.add_dm(stranger)
            peek = fake.slash_command("show", {"run": run.id}, channel=dm, user=stranger)
            assert (await dc.reply(peek, 6)).content == f"I know no run {run.id} of yours."
            assert dc.posted(dm) == []
