"""discord.py, imported once for the whole adapter.

discord.py 2.7 imports the standard library's `audioop` (for voice, which this bot never uses);
Python 3.11+ deprecates that module, and a warning at import would fail a warnings-as-errors
run. Only that one warning is silenced, only around the import. The warnings every new client
logs about missing voice libraries are switched off for the same reason.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

__all__ = ["DiscordWebSocket", "Route", "discord"]
