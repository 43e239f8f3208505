"""INTERACTION_CREATE payloads as Discord builds them for a user's action.

https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object:
`id`, `application_id`, `type`, `data`, `guild_id`/`guild`, `channel_id`/`channel` (with the
user's `permissions`), `member` (with `permissions`) in a guild or `user` in a DM, `token`,
`version`, `app_permissions`, `locale`, `guild_locale`, `entitlements`,
`authorizing_integration_owners`, `context` and `attachment_size_limit`.

Slash command options are checked against the registered command, as the Discord client does
before it sends anything: unknown or missing required options, wrong types, values outside
choices or bounds are test mistakes and raise ValueError. Attachment options are uploaded to the
fake's CDN and appear in `data.resolved.attachments` with URLs the fake serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.fakes.discord_command_rules import (
    ATTACHMENT,
    BOOLEAN,
    CHANNEL,
    INTEGER,
    MENTIONABLE,
    NUMBER,
    ROLE,
    STRING,
    SUB_COMMAND,
    SUB_COMMAND_GROUP,
    USER_OPTION,
)
from tests.fakes.discord_objects import (
    DEFAULT_FILE_LIMIT,
    Channel,
    ChannelType,
    JsonDict,
    Permission,
    User,
)
from tests.fakes.discord_state import DiscordWorld, StoredMessage

APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE = 2, 3, 4


@dataclass
class UploadFile:
    """A file a user attaches to a slash command option."""

    data: bytes
    filename: str = "image.png"
    content_type: str = "image/png"
    description: str | None = None


@dataclass
class Invocation:
    """Where and by whom: the shared part of every interaction payload."""

    channel: Channel
    user: User
    locale: str = "en-US"
    member_permissions: int | None = None
    app_permissions: int | None = None
    attachment_size_limit: int | None = None


def base_payload(
    world: DiscordWorld, kind: int, interaction_id: int, token: str, where: Invocation
) -> JsonDict:
    channel, user = where.channel, where.user
    payload: JsonDict = {
        "id": str(interaction_id),
        "application_id": str(world.application_id),
        "type": kind,
        "token": token,
        "version": 1,
        "locale": where.locale,
        "entitlements": [],
        "channel_id": str(channel.id),
    }
    if channel.guild_id is None:
        user_permissions = Permission.ALL
        app_permissions = Permission.DM_APP
        limit = DEFAULT_FILE_LIMIT
        payload.update(
            user=user.to_json(),
            context=1,
            authorizing_integration_owners={"0": "0"},
        )
    else:
        guild = world.guild_of(channel)
        member = guild.members.get(user.id)
        if member is None:
            raise ValueError(f"user {user.id} is not a member of guild {guild.id}")
        user_permissions = world.permissions(channel, user.id)
        app_permissions = world.permissions(channel, world.bot.id)
        limit = guild.file_limit
        if where.member_permissions is not None:
            user_permissions = where.member_permissions
        member_json = member.to_json()
        member_json["permissions"] = str(user_permissions)
        payload.update(
            guild_id=str(guild.id),
            guild={"id": str(guild.id), "locale": guild.preferred_locale, "features": []},
            guild_locale=guild.preferred_locale,
            member=member_json,
            context=0,
            authorizing_integration_owners={"0": str(guild.id)},
        )
    if where.app_permissions is not None:
        app_permissions = where.app_permissions
    payload["app_permissions"] = str(app_permissions)
    payload["attachment_size_limit"] = where.attachment_size_limit or limit
    payload["channel"] = partial_channel(channel, user_permissions)
    return payload


def partial_channel(channel: Channel, permissions: int) -> JsonDict:
    data = channel.to_json()
    if channel.type == ChannelType.DM:
        return data
    data.pop("permission_overwrites", None)
    data["permissions"] = str(permissions)
    return data


class OptionBuilder:
    """Turns {"name": python value} into Discord's options and `resolved` data."""

    def __init__(self, world: DiscordWorld, channel: Channel, *, partial: bool = False) -> None:
        self.world = world
        self.channel = channel
        self.partial = partial
        self.resolved: dict[str, dict[str, JsonDict]] = {}

    def build(
        self,
        definitions: list[JsonDict],
        values: dict[str, Any],
        focused: str | None = None,
    ) -> list[JsonDict]:
        known = {d["name"]: d for d in definitions}
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"no such option(s): {sorted(unknown)}; known: {sorted(known)}")
        options: list[JsonDict] = []
        for definition in definitions:
            name = definition["name"]
            if name not in values:
                if definition.get("required") and not self.partial:
                    raise ValueError(f"option {name!r} is required")
                continue
            option: JsonDict = {
                "name": name,
                "type": definition["type"],
                "value": self._value(definition, values[name], focused == name),
            }
            if focused == name:
                option["focused"] = True
            options.append(option)
        if focused is not None and focused not in values:
            raise ValueError(f"the focused option {focused!r} needs a (partial) value")
        return options

    def _value(self, definition: JsonDict, value: Any, focused: bool) -> Any:
        kind, name = definition["type"], definition["name"]
        if focused:
            return value  # partial input, as typed so far
        if kind == STRING:
            _expect(isinstance(value, str), name, "a str")
            low, high = definition.get("min_length", 0), definition.get("max_length", 6000)
            _expect(low <= len(value) <= high, name, f"{low}..{high} characters")
        elif kind == INTEGER:
            _expect(isinstance(value, int) and not isinstance(value, bool), name, "an int")
        elif kind == NUMBER:
            _expect(
                isinstance(value, int | float) and not isinstance(value, bool), name, "a number"
            )
        elif kind == BOOLEAN:
            _expect(isinstance(value, bool), name, "a bool")
        if kind in (INTEGER, NUMBER):
            low, high = definition.get("min_value"), definition.get("max_value")
            _expect(low is None or value >= low, name, f">= {low}")
            _expect(high is None or value <= high, name, f"<= {high}")
        choices = definition.get("choices")
        if choices:
            _expect(value in [c["value"] for c in choices], name, "one of its choices")
        if kind == ATTACHMENT:
            return self._attachment(name, value)
        if kind in (USER_OPTION, CHANNEL, ROLE, MENTIONABLE):
            return self._entity(kind, name, value)
        return value

    def _attachment(self, name: str, value: Any) -> str:
        if isinstance(value, bytes):
            value = UploadFile(value)
        _expect(isinstance(value, UploadFile), name, "an UploadFile or bytes")
        blob = self.world.store_blob(
            self.channel.id, value.filename, value.content_type, value.data
        )
        attachment = self.world.blob_json(blob, description=value.description, ephemeral=True)
        self.resolved.setdefault("attachments", {})[str(blob.id)] = attachment
        return str(blob.id)

    def _entity(self, kind: int, name: str, value: Any) -> str:
        entity_id = int(getattr(value, "id", value))
        guild = self.world.guilds.get(self.channel.guild_id or 0)
        if kind in (USER_OPTION, MENTIONABLE) and entity_id in self.world.users:
            self.resolved.setdefault("users", {})[str(entity_id)] = self.world.users[
                entity_id
            ].to_json()
            member = guild.members.get(entity_id) if guild else None
            if member is not None:
                data = member.to_json(with_user=False)
                data.pop("deaf")
                data.pop("mute")
                data["permissions"] = str(self.world.permissions(self.channel, entity_id))
                self.resolved.setdefault("members", {})[str(entity_id)] = data
            return str(entity_id)
        if kind in (ROLE, MENTIONABLE) and guild and entity_id in guild.roles:
            self.resolved.setdefault("roles", {})[str(entity_id)] = guild.roles[
                entity_id
            ].to_json()
            return str(entity_id)
        if kind == CHANNEL and entity_id in self.world.channels:
            target = self.world.channels[entity_id]
            permissions = self.world.permissions(target, self.world.bot.id)
            self.resolved.setdefault("channels", {})[str(entity_id)] = partial_channel(
                target, permissions
            )
            return str(entity_id)
        raise ValueError(f"option {name!r}: no such user, role or channel {entity_id}")


def command_data(
    command: JsonDict,
    path: list[str],
    options: list[JsonDict],
    resolved: dict[str, dict[str, JsonDict]],
) -> JsonDict:
    """`data` of an APPLICATION_COMMAND (or autocomplete) interaction, nesting subcommands."""
    nested = options
    for depth in range(len(path) - 1, 0, -1):
        kind = SUB_COMMAND if depth == len(path) - 1 else SUB_COMMAND_GROUP
        nested = [{"name": path[depth], "type": kind, "options": nested}]
    data: JsonDict = {
        "id": command["id"],
        "name": command["name"],
        "type": command["type"],
        "options": nested,
    }
    if resolved:
        data["resolved"] = resolved
    if "guild_id" in command:
        data["guild_id"] = command["guild_id"]
    return data


def leaf_options(command: JsonDict, path: list[str]) -> list[JsonDict]:
    """The option definitions of the (sub)command named by `path` ("cmd", "cmd sub", …)."""
    options: list[JsonDict] = command.get("options", [])
    for name in path[1:]:
        match = next(
            (o for o in options if o["name"] == name and o["type"] in (1, 2)),
            None,
        )
        if match is None:
            raise ValueError(f"{' '.join(path)!r}: no subcommand {name!r}")
        options = match.get("options", [])
    if any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in options):
        raise ValueError(f"{' '.join(path)!r} has subcommands; name one")
    return options


def component_data(message: StoredMessage, custom_id: str) -> JsonDict:
    """`data` of a button press; the button must be on the message and enabled."""
    button = next((b for b in message.buttons if b.get("custom_id") == custom_id), None)
    if button is None:
        raise ValueError(f"message {message.id} has no button {custom_id!r}: {message.custom_ids}")
    if button.get("disabled"):
        raise ValueError(f"button {custom_id!r} is disabled; Discord would not send a press")
    data: JsonDict = {"custom_id": custom_id, "component_type": 2}
    if "id" in button:
        data["id"] = button["id"]
    return data


def _expect(ok: bool, name: str, what: str) -> None:
    if not ok:
        raise ValueError(f"option {name!r} must be {what}")
