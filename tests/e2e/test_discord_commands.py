"""Discord's commands: compiled from the catalog, registered only when they changed, following
the catalog without a restart; the admin group for admins only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.models import RunStatus
from core.workflow import Deployment, DeploymentRef, InputSpec, InputType, Workflow
from tests.e2e.harness import world
from tests.fakes.backend import MemoryBackend
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_e2e import MANAGE_GUILD, Lab, discord_bot

BUILTINS = [
    "help",
    "workflows",
    "status",
    "cancel",
    "runs",
    "show",
    "recipe",
    "balance",
    "usage",
    "queue",
]
SKETCH = Workflow(
    name="sketch",
    command="sketch",
    description="A quick sketch",
    deployments=(DeploymentRef(backend="extra", id="d-sketch"),),
    inputs=(InputSpec(name="Prompt Text", type=InputType.TEXT, required=True),),
)


def _options(command: dict[str, Any] | None) -> list[tuple[Any, ...]]:
    assert command is not None
    return [
        (o["name"], o["type"], o.get("required", False), o.get("min_value"), o.get("max_value"))
        for o in command.get("options", [])
    ]


async def test_commands_follow_the_catalog_and_sync_only_on_change(
    mongo_uri: str, tmp_path: Path
) -> None:
    extra = MemoryBackend("extra")
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        admin, moderator = fake.add_user("root"), fake.add_user("mod")
        fake.add_member(lab.guild, admin)
        fake.add_member(
            lab.guild, moderator, roles=[fake.add_role(lab.guild, "mods", MANAGE_GUILD)]
        )
        w.settings = w.settings.model_copy(
            update={"admin_ids": w.settings.admin_ids | {f"discord:{admin.id}"}}
        )
        backends = [w.simulated(w.sim), extra]
        async with discord_bot(w, fake, backends=backends):
            assert (fake.commands.overwrites, fake.commands.creates) == (1, 14)
            names = [c["name"] for c in fake.commands.all(None)]
            assert names == [*BUILTINS, "img2img", "txt2img", "upscale", "comfy"]
            txt2img = fake.commands.find("txt2img", None)
            assert _options(txt2img)[:4] == [
                ("prompt", 3, True, None, None),
                ("negative", 3, False, None, None),
                ("seed", 4, False, None, None),
                ("steps", 4, False, 1, 50),
            ]
            assert txt2img is not None
            style = next(o for o in txt2img["options"] if o["name"] == "style")
            assert [c["value"] for c in style["choices"]] == [
                "none",
                "watercolor",
                "photo",
                "anime",
            ]
            hires = next(o for o in txt2img["options"] if o["name"] == "hires")
            assert hires["type"] == 5
            cfg = next(o for o in txt2img["options"] if o["name"] == "cfg")
            assert (cfg["type"], cfg["min_value"], cfg["max_value"]) == (10, 1, 15)
            assert _options(fake.commands.find("runs", None)) == [("count", 4, False, 1, 20)]
            assert _options(fake.commands.find("img2img", None))[:2] == [
                ("prompt", 3, True, None, None),  # the main text input leads
                ("input_image", 11, True, None, None),
            ]
            comfy = fake.commands.find("comfy", None)
            assert (comfy is not None and "default_member_permissions" not in comfy) or (
                comfy is not None and comfy["default_member_permissions"] is None
            )
            assert [o["name"] for o in comfy["options"]] == [
                "refresh",
                "stats",
                "redeliver",
                "ban",
                "unban",
                "grant",
                "refund",
                "runs",
            ]

        async with discord_bot(w, fake, backends=backends) as dc:  # a restart, same catalog
            assert (fake.commands.overwrites, fake.commands.creates) == (1, 14)
            assert fake.calls("PUT /applications/{application_id}/commands") != []

            extra.workflows = [SKETCH]
            extra.deployments = [
                Deployment(backend="extra", id="d-sketch", workflow_name="sketch")
            ]
            record = fake.slash_command("comfy refresh", channel=lab.channel, user=admin)
            reply = await dc.reply(record, 1)
            assert reply.content == "Catalog updated: 4 workflows."
            sketch = fake.commands.find("sketch", None)
            assert _options(sketch) == [("prompt_text", 3, True, None, None)]
            assert (fake.commands.overwrites, fake.commands.creates) == (2, 15)

            extra.workflows, extra.deployments = [], []
            assert await dc.engine.container.catalog.refresh()  # the scheduled job
            assert fake.commands.find("sketch", None) is None
            assert fake.commands.overwrites == 3

            # In a DM, Manage Server (a guild's) counts for nothing; ADMIN_IDS still do.
            refused = fake.slash_command(
                "comfy runs", channel=fake.add_dm(moderator), user=moderator
            )
            assert "admins only" in (await dc.reply(refused, 2)).content
            allowed = fake.slash_command("comfy runs", channel=fake.add_dm(admin), user=admin)
            assert (await dc.reply(allowed, 3)).content == "No runs yet."


async def test_guild_commands_and_admin_rights(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        listed, moderator, stranger = (fake.add_user(n) for n in ("listed", "mod", "stranger"))
        mods = fake.add_role(lab.guild, "mods", MANAGE_GUILD)
        fake.add_member(lab.guild, listed)
        fake.add_member(lab.guild, moderator, roles=[mods])
        fake.add_member(lab.guild, stranger)
        w.settings = w.settings.model_copy(
            update={"admin_ids": frozenset({f"discord:{listed.id}"})}
        )
        async with discord_bot(w, fake, guild_ids=[lab.guild.id]) as dc:
            assert fake.commands.all(None) == []
            assert fake.commands.find("comfy", lab.guild.id) is not None

            refused = fake.slash_command("comfy stats", channel=lab.channel, user=lab.ann)
            reply = await dc.reply(refused, 1)
            assert (
                reply.ephemeral
                and reply.content == "Not allowed: that command is for admins only."
            )

            record = fake.slash_command("comfy stats", channel=lab.channel, user=listed)
            reply = await dc.reply(record, 2)
            assert reply.ephemeral and reply.data["embeds"][0]["title"] == "Workflows: 3"
            # Manage Server moderates the guild; everybody's stats are for ADMIN_IDS only.
            record = fake.slash_command("comfy stats", channel=lab.channel, user=moderator)
            assert "admins only" in (await dc.reply(record, 3)).content

            ban = fake.slash_command(
                "comfy ban", {"user": f"<@{stranger.id}>"}, channel=lab.channel, user=moderator
            )
            assert (await dc.reply(ban, 4)).content == f"discord:{stranger.id} is now banned."
            banned = fake.slash_command("workflows", channel=lab.channel, user=stranger)
            assert (await dc.reply(banned, 5)).content == "You are not allowed to use this bot."


async def test_help_and_lists_in_discords_words(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as dc:
            listing = fake.slash_command("workflows", channel=lab.channel, user=lab.ann)
            embed = (await dc.reply(listing, 1)).data["embeds"][0]
            assert embed["title"] == "Workflows:"
            assert (
                "`/img2img` — Image to image (simulated) (takes an image)" in embed["description"]
            )

            general = fake.slash_command("help", channel=lab.channel, user=lab.ann)
            embed = (await dc.reply(general, 2)).data["embeds"][0]
            assert "`/status run:` — how a run is doing" in embed["description"]
            assert "`/runs` — your last runs" in embed["description"]
            assert "`/show run:` — post a result again" in embed["description"]
            assert "`/recipe run:` — what a run was made with" in embed["description"]
            assert "/comfy" not in embed["description"]  # not an admin

            typing = fake.autocomplete(
                "help", {"command": "2i"}, "command", channel=lab.channel, user=lab.ann
            )
            await fake.wait_for_response(typing)
            assert [c["value"] for c in typing.choices] == ["img2img", "txt2img"]
            one = fake.slash_command(
                "help", {"command": "txt2img"}, channel=lab.channel, user=lab.ann
            )
            embed = (await dc.reply(one, 3)).data["embeds"][0]
            assert embed["title"] == "/txt2img"
            fields = {f["name"]: f["value"] for f in embed["fields"]}
            assert fields["prompt (required)"].startswith("text. What to draw")
            assert fields["steps"].startswith("whole number, 1–50, default 20")
            assert fields["style"].startswith("one of none, watercolor, photo, anime")

            short = fake.slash_command(
                "status", {"run": "nope"}, channel=lab.channel, user=lab.ann
            )
            assert (await dc.reply(short, 4)).content == (
                "Give at least 6 characters of a run id, not 'nope'."
            )
            unknown = fake.slash_command(
                "status", {"run": "nosuchrun"}, channel=lab.channel, user=lab.ann
            )
            assert (await dc.reply(unknown, 5)).content == "I know no run nosuchrun of yours."
            bare = fake.slash_command("show", {"run": " "}, channel=lab.channel, user=lab.ann)
            assert (await dc.reply(bare, 6)).content == "Usage: `/show run:`"


async def test_status_and_cancel_by_run_id_on_a_running_run(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as dc:
            record, run = await dc.start_txt2img("a heron", lab.channel, lab.ann)
            for _ in range(3):  # queued, started, running 20 %
                await dc.advance(run)

            asked = fake.slash_command(
                "status", {"run": run.id}, channel=lab.channel, user=lab.ann
            )
            status = await dc.reply(asked, 2)
            assert status.ephemeral
            assert status.content == (
                f"⚙️ Running · txt2img · run {run.id}\n▰▰▱▱▱▱▱▱▱▱ 20%\nExecuting KSampler"
            )

            cancel = fake.slash_command(
                "cancel", {"run": run.id}, channel=lab.channel, user=lab.ann
            )
            answer = await dc.reply(cancel, 3)
            assert answer.ephemeral and answer.content == f"Run {run.id}: 🚫 Cancelled."
            await w.sim.drain_webhooks()
            await dc.engine.settle()
            assert (await dc.run_for(record)).status is RunStatus.CANCELLED
            [notice] = dc.posted(lab.channel)
            assert notice.content.startswith(
                f"<@{lab.ann.id}> 🚫 Cancelled · txt2img · run {run.id}"
            )
            assert notice.mention_ids == [lab.ann.id]

            after = fake.slash_command(
                "status", {"run": run.id}, channel=lab.channel, user=lab.ann
            )
            ended = await dc.reply(after, 4)
            assert ended.content.startswith(f"🚫 Cancelled · txt2img · run {run.id}")


async def test_an_admin_unbans_and_the_user_is_answered_again(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        admin, stranger = fake.add_user("admin"), fake.add_user("stranger")
        fake.add_member(lab.guild, admin)
        fake.add_member(lab.guild, stranger)
        w.settings = w.settings.model_copy(
            update={"admin_ids": frozenset({f"discord:{admin.id}"})}
        )
        async with discord_bot(w, fake) as dc:
            who = {"user": f"<@{stranger.id}>"}
            ban = fake.slash_command("comfy ban", who, channel=lab.channel, user=admin)
            assert (await dc.reply(ban, 1)).content == f"discord:{stranger.id} is now banned."
            banned = fake.slash_command("workflows", channel=lab.channel, user=stranger)
            assert (await dc.reply(banned, 2)).content == "You are not allowed to use this bot."

            refused = fake.slash_command("comfy unban", who, channel=lab.channel, user=lab.ann)
            assert "admins only" in (await dc.reply(refused, 3)).content
            unban = fake.slash_command("comfy unban", who, channel=lab.channel, user=admin)
            assert (
                await dc.reply(unban, 4)
            ).content == f"discord:{stranger.id} may use the bot again."
            welcome = fake.slash_command("workflows", channel=lab.channel, user=stranger)
            embed = (await dc.reply(welcome, 5)).data["embeds"][0]
            assert embed["title"] == "Workflows:" and "`/txt2img`" in embed["description"]


async def test_help_lists_the_admin_group_to_an_admin(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        admin = fake.add_user("admin")
        fake.add_member(lab.guild, admin)
        w.settings = w.settings.model_copy(
            update={"admin_ids": frozenset({f"discord:{admin.id}"})}
        )
        async with discord_bot(w, fake) as dc:
            asked = fake.slash_command("help", channel=lab.channel, user=admin)
            description = (await dc.reply(asked, 1)).data["embeds"][0]["description"]
            for row in (
                "`/comfy refresh` — Admin: discover the workflows again",
                "`/comfy stats` — Admin: runs and costs",
                "`/comfy runs` — Admin: everybody's last runs",
                "`/comfy ban` — Admin: ban a user",
                "`/comfy unban` — Admin: lift a ban",
            ):
                assert row in description
            other = fake.slash_command("help", channel=lab.channel, user=lab.ann)
            assert "/comfy" not in (await dc.reply(other, 2)).data["embeds"][0]["description"]
