"""The Discord platform: slash commands per workflow, live status, results in the channel."""

from adapters.discord.adapter import DiscordAdapter, DiscordConfig

__all__ = ["DiscordAdapter", "DiscordConfig"]
