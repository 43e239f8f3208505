"""`comfybot doctor` for Discord: is the token accepted, and may the bot do its work in each
guild (send messages, attach files, use application commands)?

REST only, no gateway: `GET /users/@me` checks the token
(https://discord.com/developers/docs/resources/user#get-current-user); each guild's roles and
the bot's member record give its guild permissions
(https://discord.com/developers/docs/topics/permissions). Guilds are those of
DISCORD_GUILD_IDS, else every guild the bot is in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from adapters.discord.endpoints import DEFAULT_API_BASE, Endpoints
from adapters.discord.library import discord
from adapters.discord.log_redaction import redact_token

CHECK_TIMEOUT_S = 15.0
NEEDED = ("send_messages", "attach_files", "use_application_commands")
Check = tuple[bool, str, str]


async def check_discord(
    token: str,
    guild_ids: Sequence[int] = (),
    api_base_url: str = DEFAULT_API_BASE,
    timeout_s: float = CHECK_TIMEOUT_S,
) -> list[Check]:
    """One (ok, what, detail) per check; the token never appears in them."""
    redact_token(token)
    endpoints = Endpoints(api_base_url)
    endpoints.apply()
    client = discord.Client(intents=discord.Intents.none())
    try:
        try:
            async with asyncio.timeout(timeout_s):
                await client.login(token)
        except discord.LoginFailure:
            return [(False, "discord", "DISCORD_BOT_TOKEN: Discord rejected the token")]
        except (discord.HTTPException, OSError, TimeoutError) as error:
            return [(False, "discord", f"{api_base_url} does not answer ({type(error).__name__})")]
        user = client.user
        checks: list[Check] = [(True, "discord", f"token accepted: {user}")]
        try:
            async with asyncio.timeout(timeout_s):
                ids = list(guild_ids) or [g.id async for g in client.fetch_guilds(limit=200)]
        except (discord.HTTPException, OSError, TimeoutError) as error:
            return [*checks, (False, "discord guilds", f"cannot list them ({error})")]
        if not ids:
            checks.append((False, "discord guilds", "the bot is in no guild yet: invite it"))
        for guild_id in ids:
            checks.append(await _check_guild(client, guild_id, timeout_s))
        return checks
    finally:
        await client.close()
        endpoints.restore()


async def _check_guild(client: discord.Client, guild_id: int, timeout_s: float) -> Check:
    what = f"discord guild {guild_id}"
    assert client.user is not None
    try:
        async with asyncio.timeout(timeout_s):
            guild = await client.fetch_guild(guild_id, with_counts=False)
            member = await guild.fetch_member(client.user.id)
    except discord.Forbidden:
        return False, what, "the bot is not in this guild (or may not see it)"
    except discord.NotFound:
        return False, what, "no such guild, or the bot is not a member"
    except (discord.HTTPException, OSError, TimeoutError) as error:
        return False, what, f"cannot read it ({type(error).__name__})"
    permissions = member.guild_permissions
    missing = [name for name in NEEDED if not getattr(permissions, name)]
    if missing:
        return False, f"discord guild {guild.name}", "missing permissions: " + ", ".join(missing)
    return True, f"discord guild {guild.name}", "can send messages, attach files, use commands"
