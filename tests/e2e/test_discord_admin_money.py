"""A Discord member with Manage Server moderates their guild (ban, unban, refresh) but is no
admin of the bot: money (grants, payment refunds), everybody's runs and stats, and freedom
from the rate limit stay with ADMIN_IDS."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import world
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_e2e import MANAGE_GUILD, Lab, discord_bot

ADMINS_ONLY = "Not allowed: that command is for admins only."


async def test_a_guild_manager_cannot_grant_credits_or_see_everyones_runs(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        world(mongo_uri, tmp_path, rate_limit_per_user=2) as w,
        FakeDiscord(clock=w.clock) as fake,
    ):
        lab = Lab.build(fake)
        root, manager = fake.add_user("root"), fake.add_user("mod")
        fake.add_member(lab.guild, root)
        fake.add_member(lab.guild, manager, roles=[fake.add_role(lab.guild, "mods", MANAGE_GUILD)])
        w.settings = w.settings.model_copy(update={"admin_ids": frozenset({f"discord:{root.id}"})})
        async with discord_bot(w, fake, guild_ids=[lab.guild.id]) as dc:
            accounts = dc.engine.container.accounts
            opened = fake.slash_command("balance", channel=lab.channel, user=manager)
            await dc.reply(opened, 1)
            before = await accounts.balance(f"discord:{manager.id}")

            commands = [
                ("comfy grant", {"user": f"<@{manager.id}>", "credits": "500"}),
                ("comfy refund", {"payment": "some-charge"}),
                ("comfy stats", {}),
                ("comfy runs", {}),
            ]
            for count, (command, options) in enumerate(commands, start=2):
                record = fake.slash_command(command, options, channel=lab.channel, user=manager)
                assert (await dc.reply(record, count)).content == ADMINS_ONLY
            assert await accounts.balance(f"discord:{manager.id}") == before

            ban = fake.slash_command(
                "comfy ban", {"user": f"<@{lab.ann.id}>"}, channel=lab.channel, user=manager
            )
            assert (await dc.reply(ban, 6)).content == f"discord:{lab.ann.id} is now banned."
            # A third command this minute (refusals are not counted): limited like anyone.
            flood = fake.slash_command("workflows", channel=lab.channel, user=manager)
            assert (await dc.reply(flood, 7)).content.startswith("Too many commands")

            granted = fake.slash_command(
                "comfy grant",
                {"user": f"<@{manager.id}>", "credits": "5"},
                channel=lab.channel,
                user=root,
            )
            assert "got 5.00 credits" in (await dc.reply(granted, 8)).content
            after = await accounts.balance(f"discord:{manager.id}")
            assert after.available == before.available + 500
