"""The Discord platform: slash commands per workflow, live status, results in the channel."""

from adapters.discord.adapter import DiscordAdapter, DiscordConfig
from adapters.discord.library import discord

LoginFailure = discord.LoginFailure
"""Raised by `DiscordAdapter.start` when Discord refuses the token (its text holds no token)."""

__all__ = ["DiscordAdapter", "DiscordConfig", "LoginFailure"]
