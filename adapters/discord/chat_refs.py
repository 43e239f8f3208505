"""Where an interaction came from, as a core ChatRef, and what a result message is keyed by.

A Discord result goes to the channel the command was used in (a text channel, a thread, or the
DM with the bot): `chat_id` is that channel's id, since a thread is a channel of its own.
`message_id` is the interaction's id: its token edits the command's response while young.
`language` is the user's client locale (`ru`, `es-ES` ...): answers, the run's status and its
result are written in it when the engine has a catalog for it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from adapters.discord.library import discord
from adapters.discord.locales import interaction_language
from core.models import ChatRef

PLATFORM = "discord"
NONCE_LENGTH = 25
"""https://discord.com/developers/docs/resources/message#create-message: nonce up to 25."""


def chat_ref(interaction: discord.Interaction[Any]) -> ChatRef:
    user = interaction.user
    return ChatRef(
        platform=PLATFORM,
        chat_id=str(interaction.channel_id),
        user_id=str(user.id),
        message_id=str(interaction.id),
        user_name=user.display_name,
        language=interaction_language(interaction),
    )


def manages_guild(interaction: discord.Interaction[Any]) -> bool:
    """A guild member with Manage Server (or Administrator) where the command was used."""
    if interaction.guild_id is None:
        return False
    permissions = interaction.permissions
    return bool(permissions.manage_guild or permissions.administrator)


def nonce(run_id: str, part: str) -> str:
    """The same for every attempt at one message of a result, so Discord keeps only the first
    (`enforce_nonce`); different for every other message."""
    return hashlib.sha256(f"{run_id}/{part}".encode()).hexdigest()[:NONCE_LENGTH]
