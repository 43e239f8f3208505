"""The fake Discord's world: the application and its bot user, guilds, channels, members,
every message in every channel, the files it serves, and a change signal tests wait on.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tests.fakes.clock import FakeClock
from tests.fakes.discord_errors import unknown
from tests.fakes.discord_objects import (
    Blob,
    Channel,
    ChannelType,
    Guild,
    JsonDict,
    Member,
    MessageFlag,
    Overwrite,
    Permission,
    Role,
    Snowflakes,
    User,
    attachment_json,
    channel_permissions,
)

T = TypeVar("T")


class Changes:
    """Wakes waiters after every change the fake records (requests, frames, messages)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, condition: Callable[[], T], within: float) -> T:
        async with asyncio.timeout(within):
            while True:
                event = self._event
                result = condition()
                if result:
                    return result
                await event.wait()


@dataclass
class StoredMessage:
    """A message as Discord holds it: its JSON and the bytes of its attachments."""

    data: JsonDict
    files: dict[str, bytes] = field(default_factory=dict)
    deleted: bool = False
    interaction_id: int | None = None

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def channel_id(self) -> int:
        return int(self.data["channel_id"])

    @property
    def content(self) -> str:
        return str(self.data.get("content", ""))

    @property
    def flags(self) -> int:
        return int(self.data.get("flags", 0))

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & MessageFlag.EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & MessageFlag.LOADING)

    @property
    def attachments(self) -> list[JsonDict]:
        return list(self.data.get("attachments", []))

    @property
    def filenames(self) -> list[str]:
        return [a["filename"] for a in self.attachments]

    def file(self, filename: str) -> bytes | None:
        for attachment in self.attachments:
            if attachment["filename"] == filename:
                return self.files.get(attachment["id"])
        return None

    @property
    def mention_ids(self) -> list[int]:
        """Users this message notified (Discord's `mentions`, after `allowed_mentions`)."""
        return [int(u["id"]) for u in self.data.get("mentions", [])]

    @property
    def buttons(self) -> list[JsonDict]:
        """Every button, in order, wherever it sits in the component tree."""
        found: list[JsonDict] = []

        def walk(components: list[JsonDict]) -> None:
            for component in components:
                if component.get("type") == 2:
                    found.append(component)
                walk(component.get("components", []))
                accessory = component.get("accessory")
                if isinstance(accessory, dict):
                    walk([accessory])

        walk(self.data.get("components", []))
        return found

    @property
    def custom_ids(self) -> list[str]:
        return [b["custom_id"] for b in self.buttons if "custom_id" in b]


class DiscordWorld:
    """Everything the fake knows. Ids are snowflakes on the fake clock."""

    def __init__(self, clock: FakeClock, token: str, bot_name: str) -> None:
        self.clock = clock
        self.snowflakes = Snowflakes(clock)
        self.token = token
        self.application_id = self.snowflakes.next()
        self.bot = User(self.application_id, bot_name, None, bot=True)
        self.owner = User(self.snowflakes.next(), "app_owner", "App Owner")
        self.users: dict[int, User] = {self.bot.id: self.bot, self.owner.id: self.owner}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, list[StoredMessage]] = {}
        self.blobs: dict[int, Blob] = {}
        self.changes = Changes()
        self.http_base = ""
        self._cdn_secret = secrets.token_hex(8)

    # -- building the world ----------------------------------------------------------------

    def add_user(self, username: str, global_name: str | None = None) -> User:
        user = User(self.snowflakes.next(), username, global_name)
        self.users[user.id] = user
        return user

    def add_guild(
        self, name: str, *, owner: User | None = None, locale: str = "en-US", premium_tier: int = 0
    ) -> Guild:
        owner = owner or self.owner
        guild = Guild(
            self.snowflakes.next(),
            name,
            owner.id,
            self.clock.now(),
            preferred_locale=locale,
            premium_tier=premium_tier,
        )
        guild.roles[guild.id] = Role(guild.id, "@everyone", Permission.EVERYONE_DEFAULT)
        bot_role = Role(self.snowflakes.next(), self.bot.username, 0, position=1, managed=True)
        guild.roles[bot_role.id] = bot_role
        self.guilds[guild.id] = guild
        self.add_member(guild, owner)
        self.add_member(guild, self.bot, roles=[bot_role.id])
        return guild

    def add_member(
        self, guild: Guild, user: User, *, roles: list[int] | None = None, nick: str | None = None
    ) -> Member:
        self.users[user.id] = user
        member = Member(user, self.clock.now(), list(roles or []), nick)
        guild.members[user.id] = member
        return member

    def add_role(
        self, guild: Guild, name: str, permissions: int = 0, *, mentionable: bool = False
    ) -> Role:
        role = Role(
            self.snowflakes.next(),
            name,
            permissions,
            position=len(guild.roles),
            mentionable=mentionable,
        )
        guild.roles[role.id] = role
        return role

    def add_text_channel(
        self,
        guild: Guild,
        name: str,
        *,
        topic: str | None = None,
        overwrites: list[Overwrite] | None = None,
    ) -> Channel:
        channel = Channel(
            self.snowflakes.next(),
            ChannelType.GUILD_TEXT,
            name,
            guild.id,
            position=len(guild.channel_ids),
            topic=topic,
            overwrites=list(overwrites or []),
        )
        return self._add_channel(guild, channel)

    def add_thread(self, parent: Channel, name: str, *, private: bool = False) -> Channel:
        guild = self.guild_of(parent)
        kind = ChannelType.PRIVATE_THREAD if private else ChannelType.PUBLIC_THREAD
        thread = Channel(
            self.snowflakes.next(), kind, name, guild.id, parent.id, owner_id=self.owner.id
        )
        return self._add_channel(guild, thread)

    def add_dm(self, user: User) -> Channel:
        for channel in self.channels.values():
            if channel.type == ChannelType.DM and channel.recipients == [user]:
                return channel
        self.users[user.id] = user
        channel = Channel(self.snowflakes.next(), ChannelType.DM, recipients=[user])
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        return channel

    def _add_channel(self, guild: Guild, channel: Channel) -> Channel:
        guild.channel_ids.append(channel.id)
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        return channel

    # -- lookups ---------------------------------------------------------------------------

    def channel(self, channel_id: int) -> Channel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise unknown("Channel", 10003)
        return channel

    def guild(self, guild_id: int) -> Guild:
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise unknown("Guild", 10004)
        return guild

    def guild_of(self, channel: Channel) -> Guild:
        assert channel.guild_id is not None, "a DM channel has no guild"
        return self.guild(channel.guild_id)

    def permissions(self, channel: Channel, user_id: int) -> int:
        """A user's permissions in a channel; threads use their parent's overwrites. In a DM
        the bot sees the channel and may post in it (Create Message works in DM channels,
        https://discord.com/developers/docs/resources/message#create-message), on top of what
        an interaction's `app_permissions` lists there."""
        if channel.guild_id is None:
            if user_id != self.bot.id:
                return Permission.ALL
            return (
                Permission.DM_APP
                | Permission.VIEW_CHANNEL
                | Permission.SEND_MESSAGES
                | Permission.READ_MESSAGE_HISTORY
            )
        guild = self.guild_of(channel)
        source = channel
        if channel.is_thread and channel.parent_id is not None:
            source = self.channel(channel.parent_id)
        return channel_permissions(guild, source, user_id)

    def message(self, channel_id: int, message_id: int) -> StoredMessage:
        for stored in self.messages.get(channel_id, []):
            if stored.id == message_id and not stored.deleted:
                return stored
        raise unknown("Message", 10008)

    def find_message(self, message_id: int) -> StoredMessage | None:
        for messages in self.messages.values():
            for stored in messages:
                if stored.id == message_id:
                    return stored
        return None

    # -- the fake's CDN ----------------------------------------------------------------------

    def store_blob(self, channel_id: int, filename: str, content_type: str, data: bytes) -> Blob:
        blob = Blob(self.snowflakes.next(), channel_id, filename, content_type, data)
        self.blobs[blob.id] = blob
        return blob

    def blob_url(self, blob: Blob) -> str:
        """A signed URL in the shape of Discord's CDN links (…?ex=…&is=…&hm=…)."""
        issued = int(self.clock.now().timestamp())
        expires = issued + 24 * 3600
        signature = self._signature(blob.id, expires)
        return (
            f"{self.http_base}/attachments/{blob.channel_id}/{blob.id}/{blob.filename}"
            f"?ex={expires:x}&is={issued:x}&hm={signature}&"
        )

    def blob_json(
        self, blob: Blob, *, description: str | None = None, ephemeral: bool = False
    ) -> JsonDict:
        return attachment_json(
            blob, self.blob_url(blob), description=description, ephemeral=ephemeral
        )

    def _signature(self, blob_id: int, expires: int) -> str:
        return hashlib.sha256(f"{self._cdn_secret}:{blob_id}:{expires}".encode()).hexdigest()

    def check_signature(self, blob_id: int, expires_hex: str, signature: str) -> bool:
        try:
            expires = int(expires_hex, 16)
        except ValueError:
            return False
        return signature == self._signature(blob_id, expires)
