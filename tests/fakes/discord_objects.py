"""Discord's resource objects as the API serialises them, for the fake Discord.

Users, members, roles, guilds, channels and attachments are small dataclasses the test builds
its world from; each renders the JSON Discord sends (snowflakes as strings, ISO 8601 times):
https://discord.com/developers/docs/resources/user#user-object,
https://discord.com/developers/docs/resources/guild#guild-object,
https://discord.com/developers/docs/resources/channel#channel-object,
https://discord.com/developers/docs/topics/permissions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

from tests.fakes.clock import FakeClock

JsonDict = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000
MIB = 1024 * 1024
DEFAULT_FILE_LIMIT = 10 * MIB
"""Per-file upload limit for everyone (https://discord.com/developers/docs/reference#uploading-files)."""
BOOST_FILE_LIMITS = {0: 10 * MIB, 1: 10 * MIB, 2: 50 * MIB, 3: 100 * MIB}
"""Per-file limit by a guild's boost tier (`premium_tier`); the docs say only that boosts raise
the 10 MiB default, these are the tiers' published values."""


class ChannelType(IntEnum):
    """https://discord.com/developers/docs/resources/channel#channel-object-channel-types"""

    GUILD_TEXT = 0
    DM = 1
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12


THREAD_TYPES = frozenset({ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD})


class Permission:
    """Permission bits (https://discord.com/developers/docs/topics/permissions#permissions-bitwise-permission-flags)."""

    CREATE_INSTANT_INVITE = 1 << 0
    ADMINISTRATOR = 1 << 3
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    USE_APPLICATION_COMMANDS = 1 << 31
    SEND_MESSAGES_IN_THREADS = 1 << 38
    ALL = (1 << 51) - 1
    EVERYONE_DEFAULT = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | USE_APPLICATION_COMMANDS
        | SEND_MESSAGES_IN_THREADS
    )
    DM_APP = ATTACH_FILES | EMBED_LINKS | MENTION_EVERYONE | USE_EXTERNAL_EMOJIS
    """What `app_permissions` holds in a DM with the bot (interaction object footnote)."""


class MessageFlag:
    """https://discord.com/developers/docs/resources/message#message-object-message-flags"""

    SUPPRESS_EMBEDS = 1 << 2
    EPHEMERAL = 1 << 6
    LOADING = 1 << 7
    SUPPRESS_NOTIFICATIONS = 1 << 12
    IS_VOICE_MESSAGE = 1 << 13
    IS_COMPONENTS_V2 = 1 << 15


class Snowflakes:
    """Unique, increasing snowflakes whose timestamp is the fake clock's
    (https://discord.com/developers/docs/reference#snowflakes)."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._last = 0

    def next(self) -> int:
        ms = int(self._clock.now().timestamp() * 1000) - DISCORD_EPOCH_MS
        self._last = max(self._last + 1, ms << 22)
        return self._last


def iso(moment: datetime) -> str:
    """ISO 8601 with microseconds and offset, as Discord writes timestamps."""
    return moment.isoformat(timespec="microseconds")


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def to_json(self) -> JsonDict:
        data: JsonDict = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0
    mentionable: bool = False
    managed: bool = False

    def to_json(self) -> JsonDict:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }


@dataclass
class Member:
    user: User
    joined_at: datetime
    roles: list[int] = field(default_factory=list)
    nick: str | None = None

    def to_json(self, *, with_user: bool = True) -> JsonDict:
        data: JsonDict = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": iso(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_json()
        return data


@dataclass
class Overwrite:
    """A channel permission overwrite; `kind` 0 is a role, 1 a member."""

    id: int
    kind: int
    allow: int = 0
    deny: int = 0

    def to_json(self) -> JsonDict:
        return {
            "id": str(self.id),
            "type": self.kind,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass
class Channel:
    id: int
    type: ChannelType
    name: str | None = None
    guild_id: int | None = None
    parent_id: int | None = None
    position: int = 0
    topic: str | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    recipients: list[User] = field(default_factory=list)
    owner_id: int | None = None
    archived: bool = False
    last_message_id: int | None = None

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    def to_json(self, *, archive_time: datetime | None = None) -> JsonDict:
        last = None if self.last_message_id is None else str(self.last_message_id)
        if self.type == ChannelType.DM:
            return {
                "id": str(self.id),
                "type": int(self.type),
                "last_message_id": last,
                "flags": 0,
                "recipients": [u.to_json() for u in self.recipients],
            }
        data: JsonDict = {
            "id": str(self.id),
            "type": int(self.type),
            "guild_id": str(self.guild_id),
            "name": self.name,
            "parent_id": None if self.parent_id is None else str(self.parent_id),
            "last_message_id": last,
            "flags": 0,
            "rate_limit_per_user": 0,
        }
        if self.is_thread:
            data.update(
                owner_id=str(self.owner_id),
                message_count=0,
                member_count=1,
                total_message_sent=0,
                thread_metadata={
                    "archived": self.archived,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": iso(archive_time) if archive_time else None,
                    "locked": False,
                },
            )
        else:
            data.update(
                position=self.position,
                permission_overwrites=[o.to_json() for o in self.overwrites],
                topic=self.topic,
                nsfw=False,
            )
        return data


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    joined_at: datetime
    preferred_locale: str = "en-US"
    premium_tier: int = 0
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)

    @property
    def file_limit(self) -> int:
        return BOOST_FILE_LIMITS.get(self.premium_tier, DEFAULT_FILE_LIMIT)

    def to_json(self) -> JsonDict:
        """The guild object (without the GUILD_CREATE extras)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.to_json() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "vanity_url_code": None,
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "preferred_locale": self.preferred_locale,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }

    def base_permissions(self, user_id: int) -> int:
        """https://discord.com/developers/docs/topics/permissions#permission-overwrites"""
        if user_id == self.owner_id:
            return Permission.ALL
        everyone = self.roles.get(self.id)
        permissions = everyone.permissions if everyone else 0
        member = self.members.get(user_id)
        for role_id in member.roles if member else []:
            role = self.roles.get(role_id)
            if role is not None:
                permissions |= role.permissions
        return Permission.ALL if permissions & Permission.ADMINISTRATOR else permissions


def channel_permissions(guild: Guild, channel: Channel, user_id: int) -> int:
    """Base permissions with the channel's overwrites applied, as the docs' pseudo-code does."""
    permissions = guild.base_permissions(user_id)
    if permissions & Permission.ADMINISTRATOR or permissions == Permission.ALL:
        return Permission.ALL
    overwrites = {o.id: o for o in channel.overwrites}
    everyone = overwrites.get(guild.id)
    if everyone is not None:
        permissions = (permissions & ~everyone.deny) | everyone.allow
    member = guild.members.get(user_id)
    allow = deny = 0
    for role_id in member.roles if member else []:
        overwrite = overwrites.get(role_id)
        if overwrite is not None:
            allow |= overwrite.allow
            deny |= overwrite.deny
    permissions = (permissions & ~deny) | allow
    own = overwrites.get(user_id)
    if own is not None:
        permissions = (permissions & ~own.deny) | own.allow
    return permissions


@dataclass
class Blob:
    """Bytes the fake serves at an attachment URL (its CDN)."""

    id: int
    channel_id: int
    filename: str
    content_type: str
    data: bytes


def attachment_json(
    blob: Blob, url: str, *, description: str | None = None, ephemeral: bool = False
) -> JsonDict:
    """https://discord.com/developers/docs/resources/message#attachment-object"""
    data: JsonDict = {
        "id": str(blob.id),
        "filename": blob.filename,
        "size": len(blob.data),
        "url": url,
        "proxy_url": url,
        "content_type": blob.content_type,
    }
    size = image_size(blob.data)
    if size is not None:
        data["width"], data["height"] = size
    if description is not None:
        data["description"] = description
    if ephemeral:
        data["ephemeral"] = True
    return data


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG, read from its header; None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:2] == b"\xff\xd8":
        index = 2
        while index + 9 < len(data) and data[index] == 0xFF:
            marker, length = data[index + 1], int.from_bytes(data[index + 2 : index + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height = int.from_bytes(data[index + 5 : index + 7], "big")
                return int.from_bytes(data[index + 7 : index + 9], "big"), height
            index += 2 + length
    return None
