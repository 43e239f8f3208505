"""`comfybot doctor` for Discord against the fake: the token, and the bot's permissions."""

from __future__ import annotations

from adapters.discord.health import check_discord
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_objects import Permission


async def test_the_token_and_each_guilds_permissions_are_checked() -> None:
    async with FakeDiscord() as fake:
        good = fake.add_guild("Lab")
        bare = fake.add_guild("Bare")
        bare.roles[bare.id].permissions &= ~Permission.ATTACH_FILES

        checks = await check_discord(fake.token, [good.id, bare.id], fake.api_base)

        assert checks[0][:2] == (True, "discord")
        assert checks[1] == (
            True,
            "discord guild Lab",
            "can send messages, attach files, use commands",
        )
        assert checks[2] == (False, "discord guild Bare", "missing permissions: attach_files")
        assert all(fake.token not in detail for _, _, detail in checks)

        refused = await check_discord("not-the-token", [good.id], fake.api_base)
        assert refused == [(False, "discord", "DISCORD_BOT_TOKEN: Discord rejected the token")]
        unknown = await check_discord(fake.token, [12345], fake.api_base)
        assert unknown[1][0] is False and unknown[1][1] == "discord guild 12345"
