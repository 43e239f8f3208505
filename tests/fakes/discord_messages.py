"""Creating, editing and deleting messages from request payloads, for channels and webhooks.

Follows https://discord.com/developers/docs/resources/message#create-message and
#edit-message: content up to 2000 characters, up to 10 embeds and 10 files, components
(https://discord.com/developers/docs/components/reference), `allowed_mentions`
(#allowed-mentions-object, whose defaults differ for interactions and webhooks),
`message_reference`, `nonce` + `enforce_nonce`, and attachment placeholders
(https://discord.com/developers/docs/reference#uploading-files): on edit, only the attachments
listed in `attachments` are kept. Each file must fit the per-file limit (10 MiB unless a boost
tier or the interaction's `attachment_size_limit` says more) and the whole request 25 MiB, the
documented Create Message maximum (this fake lets a larger per-file limit raise that cap); a
too large upload answers 413 with code 40005.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from tests.fakes.discord_calls import Upload
from tests.fakes.discord_errors import (
    DiscordError,
    FormErrors,
    empty_message,
    field_error,
    length_error,
    too_large,
)
from tests.fakes.discord_objects import (
    MIB,
    Channel,
    JsonDict,
    MessageFlag,
    Permission,
    User,
    iso,
)
from tests.fakes.discord_state import DiscordWorld, StoredMessage

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_FILES = 10
MAX_REQUEST = 25 * MIB
EPHEMERAL = MessageFlag.EPHEMERAL
LOADING = MessageFlag.LOADING
COMPONENTS_V2 = MessageFlag.IS_COMPONENTS_V2
SETTABLE_FLAGS = (
    MessageFlag.SUPPRESS_EMBEDS
    | MessageFlag.SUPPRESS_NOTIFICATIONS
    | MessageFlag.IS_VOICE_MESSAGE
    | COMPONENTS_V2
)
PARSE_ALL = ("users", "roles", "everyone")
PARSE_USERS = ("users",)

GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")


class Dispatcher(Protocol):
    def dispatch(self, event: str, data: JsonDict, intent: int | None) -> int: ...


@dataclass
class Origin:
    """Who sends a message and how: a channel message, or an interaction response/followup."""

    author: User
    default_parse: tuple[str, ...] = PARSE_ALL
    message_type: int = 0
    allow_ephemeral: bool = False
    webhook_id: int | None = None
    interaction_metadata: JsonDict | None = None
    interaction_id: int | None = None
    reference: JsonDict | None = None
    file_limit: int = 10 * MIB


class MessageService:
    def __init__(self, world: DiscordWorld, gateway: Dispatcher) -> None:
        self.world = world
        self.gateway = gateway

    # -- create ----------------------------------------------------------------------------

    def create(
        self, channel: Channel, payload: Any, files: list[Upload], origin: Origin
    ) -> StoredMessage:
        if not isinstance(payload, dict):
            payload = {}
        duplicate = self._enforced_nonce(channel, payload, origin.author)
        if duplicate is not None:
            return duplicate
        flags = int(payload.get("flags") or 0)
        check_payload(payload, flags)
        check_files(files, origin.file_limit)
        has_files = bool(files)
        if not (
            payload.get("content")
            or payload.get("embeds")
            or payload.get("components")
            or payload.get("sticker_ids")
            or payload.get("poll")
            or has_files
        ):
            raise empty_message()
        allowed = SETTABLE_FLAGS | (EPHEMERAL if origin.allow_ephemeral else 0)
        reference = origin.reference or self._reference(channel, payload)
        message_type = origin.message_type
        if reference is not None and message_type == 0:
            message_type = 19
        data: JsonDict = {
            "id": str(self.world.snowflakes.next()),
            "channel_id": str(channel.id),
            "author": origin.author.to_json(),
            "content": str(payload.get("content") or ""),
            "timestamp": iso(self.world.clock.now()),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts", False)),
            "pinned": False,
            "type": message_type,
            "flags": flags & allowed,
            "embeds": list(payload.get("embeds") or []),
            "components": list(payload.get("components") or []),
            "attachments": [],
        }
        if payload.get("nonce") is not None:
            data["nonce"] = payload["nonce"]
        if origin.webhook_id is not None:
            data["webhook_id"] = str(origin.webhook_id)
            data["application_id"] = str(origin.webhook_id)
        if origin.interaction_metadata is not None:
            data["interaction_metadata"] = origin.interaction_metadata
        referenced = None
        if reference is not None:
            data["message_reference"] = reference
            referenced = self.world.find_message(int(reference["message_id"]))
            data["referenced_message"] = referenced.data if referenced else None
        stored = StoredMessage(data, interaction_id=origin.interaction_id)
        self._apply_attachments(stored, payload, files, channel)
        self._apply_mentions(stored, channel, payload, origin.default_parse, referenced)
        self.world.messages.setdefault(channel.id, []).append(stored)
        channel.last_message_id = stored.id
        if not stored.ephemeral:
            self._dispatch("MESSAGE_CREATE", stored, channel)
        return stored

    def create_loading(self, channel: Channel, origin: Origin, ephemeral: bool) -> StoredMessage:
        """The "thinking" message a DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE response leaves."""
        data: JsonDict = {
            "id": str(self.world.snowflakes.next()),
            "channel_id": str(channel.id),
            "author": origin.author.to_json(),
            "content": "",
            "timestamp": iso(self.world.clock.now()),
            "edited_timestamp": None,
            "tts": False,
            "pinned": False,
            "type": origin.message_type,
            "flags": LOADING | (EPHEMERAL if ephemeral else 0),
            "embeds": [],
            "components": [],
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
        }
        if origin.webhook_id is not None:
            data["webhook_id"] = str(origin.webhook_id)
            data["application_id"] = str(origin.webhook_id)
        if origin.interaction_metadata is not None:
            data["interaction_metadata"] = origin.interaction_metadata
        if origin.reference is not None:
            data["message_reference"] = origin.reference
        stored = StoredMessage(data, interaction_id=origin.interaction_id)
        self.world.messages.setdefault(channel.id, []).append(stored)
        if not ephemeral:
            self._dispatch("MESSAGE_CREATE", stored, channel)
        return stored

    # -- edit and delete -------------------------------------------------------------------

    def edit(
        self,
        stored: StoredMessage,
        payload: Any,
        files: list[Upload],
        *,
        file_limit: int,
        default_parse: tuple[str, ...] = PARSE_ALL,
    ) -> StoredMessage:
        if not isinstance(payload, dict):
            payload = {}
        channel = self.world.channel(stored.channel_id)
        flags = int(payload.get("flags") or 0) | (stored.flags & COMPONENTS_V2)
        check_payload(payload, flags)
        check_files(files, file_limit)
        data = stored.data
        if "content" in payload:
            data["content"] = str(payload["content"] or "")
        for key in ("embeds", "components"):
            if key in payload:
                data[key] = list(payload[key] or [])
        if "flags" in payload and payload["flags"] is not None:
            keep = stored.flags & (EPHEMERAL | COMPONENTS_V2)
            data["flags"] = keep | (int(payload["flags"]) & SETTABLE_FLAGS)
        data["flags"] = int(data.get("flags", 0)) & ~LOADING
        if "attachments" in payload or files:
            self._apply_attachments(stored, payload, files, channel, editing=True)
        if not any(data.get(k) for k in ("content", "embeds", "components", "attachments")):
            raise empty_message()
        if "content" in payload or "allowed_mentions" in payload:
            referenced = None
            reference = data.get("message_reference")
            if isinstance(reference, dict) and reference.get("message_id"):
                referenced = self.world.find_message(int(reference["message_id"]))
            self._apply_mentions(stored, channel, payload, default_parse, referenced)
        data["edited_timestamp"] = iso(self.world.clock.now())
        if not stored.ephemeral:
            self._dispatch("MESSAGE_UPDATE", stored, channel)
        return stored

    def delete(self, stored: StoredMessage) -> None:
        stored.deleted = True
        channel = self.world.channel(stored.channel_id)
        if stored.ephemeral:
            return
        event: JsonDict = {"id": str(stored.id), "channel_id": str(channel.id)}
        if channel.guild_id is not None:
            event["guild_id"] = str(channel.guild_id)
        self.gateway.dispatch("MESSAGE_DELETE", event, _intent(channel))

    # -- pieces ----------------------------------------------------------------------------

    def _enforced_nonce(
        self, channel: Channel, payload: JsonDict, author: User
    ) -> StoredMessage | None:
        nonce = payload.get("nonce")
        if nonce is None:
            return None
        if len(str(nonce)) > 25:
            raise field_error(["nonce"], *length_error(0, 25))
        if not payload.get("enforce_nonce"):
            return None
        for stored in self.world.messages.get(channel.id, []):
            if stored.data.get("nonce") == nonce and stored.data["author"]["id"] == str(author.id):
                return stored
        return None

    def _reference(self, channel: Channel, payload: JsonDict) -> JsonDict | None:
        reference = payload.get("message_reference")
        if not isinstance(reference, dict) or reference.get("message_id") is None:
            return None
        channel_id = int(reference.get("channel_id") or channel.id)
        target = self.world.find_message(int(reference["message_id"]))
        if target is None or target.deleted or target.channel_id != channel_id:
            if reference.get("fail_if_not_exists", True):
                raise field_error(
                    ["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
            return None
        result: JsonDict = {
            "type": int(reference.get("type") or 0),
            "channel_id": str(channel_id),
            "message_id": str(target.id),
        }
        if channel.guild_id is not None:
            result["guild_id"] = str(channel.guild_id)
        return result

    def _apply_attachments(
        self,
        stored: StoredMessage,
        payload: JsonDict,
        files: list[Upload],
        channel: Channel,
        *,
        editing: bool = False,
    ) -> None:
        by_index = {f.index: f for f in files}
        listed = payload.get("attachments")
        meta: dict[int, JsonDict] = {}
        keep: list[JsonDict] = []
        current = {a["id"]: a for a in stored.data.get("attachments", [])}
        if isinstance(listed, list):
            for item in listed:
                if not isinstance(item, dict) or item.get("id") is None:
                    continue
                key = str(item["id"])
                if key in current:
                    updated = dict(current[key])
                    if "description" in item:
                        updated["description"] = item["description"]
                    keep.append(updated)
                elif key.isdigit() and int(key) in by_index:
                    meta[int(key)] = item
        elif editing:
            keep = list(current.values())
        result = keep
        kept_ids = {a["id"] for a in keep}
        stored.files = {k: v for k, v in stored.files.items() if k in kept_ids}
        for upload in files:
            item = meta.get(upload.index if upload.index is not None else -1, {})
            filename = str(item.get("filename") or upload.filename)
            content_type = _content_type(filename, upload.content_type)
            blob = self.world.store_blob(channel.id, filename, content_type, upload.data)
            attachment = self.world.blob_json(blob, description=item.get("description"))
            result.append(attachment)
            stored.files[attachment["id"]] = upload.data
        stored.data["attachments"] = result

    def _apply_mentions(
        self,
        stored: StoredMessage,
        channel: Channel,
        payload: JsonDict,
        default_parse: tuple[str, ...],
        referenced: StoredMessage | None,
    ) -> None:
        allowed = payload.get("allowed_mentions")
        if allowed is not None:
            check_allowed_mentions(allowed)
        content = str(stored.data.get("content") or "")
        author_id = int(stored.data["author"]["id"])
        can_everyone = bool(
            self.world.permissions(channel, author_id) & Permission.MENTION_EVERYONE
        )
        if isinstance(allowed, dict):
            parse = tuple(allowed.get("parse") or ())
            only_users = {int(u) for u in allowed.get("users") or []}
            only_roles = {int(r) for r in allowed.get("roles") or []}
            replied = bool(allowed.get("replied_user", False))
        else:
            parse, only_users, only_roles = default_parse, set(), set()
            replied = default_parse == PARSE_ALL
        users: list[int] = []
        for match in USER_MENTION.finditer(content):
            user_id = int(match.group(1))
            wanted = "users" in parse or user_id in only_users
            if wanted and user_id in self.world.users and user_id not in users:
                users.append(user_id)
        if replied and referenced is not None:
            replied_id = int(referenced.data["author"]["id"])
            if replied_id not in users:
                users.append(replied_id)
        roles: list[int] = []
        guild = self.world.guilds.get(channel.guild_id or 0)
        for match in ROLE_MENTION.finditer(content):
            role_id = int(match.group(1))
            role = guild.roles.get(role_id) if guild else None
            if role is None or role_id in roles:
                continue
            if ("roles" in parse or role_id in only_roles) and (role.mentionable or can_everyone):
                roles.append(role_id)
        everyone = (
            "everyone" in parse and can_everyone and ("@everyone" in content or "@here" in content)
        )
        stored.data["mentions"] = [self.world.users[u].to_json() for u in users]
        stored.data["mention_roles"] = [str(r) for r in roles]
        stored.data["mention_everyone"] = everyone

    def _dispatch(self, event: str, stored: StoredMessage, channel: Channel) -> None:
        data = dict(stored.data)
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
            guild = self.world.guild(channel.guild_id)
            member = guild.members.get(int(data["author"]["id"]))
            if member is not None and "webhook_id" not in data:
                data["member"] = member.to_json(with_user=False)
        self.gateway.dispatch(event, data, _intent(channel))


def _intent(channel: Channel) -> int:
    return DIRECT_MESSAGES if channel.guild_id is None else GUILD_MESSAGES


def _content_type(filename: str, sent: str) -> str:
    """Discord detects the type from the file; the client sends application/octet-stream."""
    if sent and sent != "application/octet-stream":
        return sent
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return {
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "gif": "image/gif",
        "webp": "image/webp",
        "mp4": "video/mp4",
        "webm": "video/webm",
        "txt": "text/plain; charset=utf-8",
        "json": "application/json; charset=utf-8",
    }.get(extension, "application/octet-stream")


def check_payload(payload: JsonDict, flags: int) -> None:
    """The message fields' own limits (content, embeds, components, allowed_mentions)."""
    errors = FormErrors()
    content = payload.get("content")
    if content is not None and len(str(content)) > MAX_CONTENT:
        errors.add(["content"], *length_error(0, MAX_CONTENT))
    embeds = payload.get("embeds")
    if isinstance(embeds, list) and len(embeds) > MAX_EMBEDS:
        errors.add(["embeds"], *length_error(0, MAX_EMBEDS))
    if flags & COMPONENTS_V2:
        for key in ("content", "embeds", "sticker_ids", "poll"):
            if payload.get(key):
                errors.add(
                    [key],
                    "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                    "The 'content', 'embeds', 'stickers' and 'poll' fields cannot be used when "
                    "using MessageFlags.IS_COMPONENTS_V2",
                )
    components = payload.get("components")
    if isinstance(components, list):
        check_components(components, errors, v2=bool(flags & COMPONENTS_V2))
    errors.raise_if_any()


def check_components(components: list[Any], errors: FormErrors, *, v2: bool) -> None:
    """Action rows of buttons (classic messages); custom_id unique and 1–100 characters."""
    seen: set[str] = set()

    def check_custom_id(component: JsonDict, path: list[str | int]) -> None:
        custom_id = component.get("custom_id")
        if custom_id is None:
            return
        if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= 100:
            errors.add([*path, "custom_id"], *length_error(1, 100))
        elif custom_id in seen:
            errors.add(
                [*path, "custom_id"],
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        seen.add(str(custom_id))

    def walk(items: Iterable[Any], path: list[str | int]) -> None:
        for index, component in enumerate(items):
            if isinstance(component, dict):
                check_custom_id(component, [*path, index])
                walk(component.get("components") or [], [*path, index, "components"])

    if v2:
        walk(components, ["components"])
        return
    if len(components) > 5:
        errors.add(["components"], *length_error(0, 5))
    for row_index, row in enumerate(components):
        path: list[str | int] = ["components", row_index]
        if not isinstance(row, dict) or row.get("type") != 1:
            errors.add(
                [*path, "type"], "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).'
            )
            continue
        children = row.get("components") or []
        if not 1 <= len(children) <= 5:
            errors.add([*path, "components"], *length_error(1, 5))
        for index, child in enumerate(children):
            here: list[str | int] = [*path, "components", index]
            if not isinstance(child, dict):
                continue
            if child.get("type") == 2:
                check_button(child, here, errors)
            check_custom_id(child, here)


def check_button(button: JsonDict, path: list[str | int], errors: FormErrors) -> None:
    style = button.get("style")
    if style not in (1, 2, 3, 4, 5, 6):
        errors.add(
            [*path, "style"], "BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3, 4, 5, 6)."
        )
        return
    label = button.get("label")
    if label is not None and len(str(label)) > 80:
        errors.add([*path, "label"], *length_error(0, 80))
    if style == 5:
        if not button.get("url") or button.get("custom_id") is not None:
            errors.add(
                path, "BUTTON_COMPONENT_URL_REQUIRED", "A link button needs a url and no custom_id"
            )
    elif style != 6 and (button.get("custom_id") is None or button.get("url") is not None):
        errors.add(
            path,
            "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED",
            "A non-link button needs a custom_id and no url",
        )


def check_allowed_mentions(allowed: Any) -> None:
    """`parse` excludes explicit `users`/`roles` lists of the same kind."""
    if not isinstance(allowed, dict):
        raise field_error(["allowed_mentions"], "DICT_TYPE_CONVERT", "Must be a dictionary.")
    parse = allowed.get("parse") or []
    for kind in ("users", "roles"):
        if kind in parse and allowed.get(kind):
            raise field_error(
                ["allowed_mentions"],
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )
        if len(allowed.get(kind) or []) > 100:
            raise field_error(["allowed_mentions", kind], *length_error(0, 100))


def check_files(files: list[Upload], file_limit: int) -> None:
    if len(files) > MAX_FILES:
        raise DiscordError(400, 30015, "Maximum number of attachments in a message reached (10)")
    if any(f.size > file_limit for f in files):
        raise too_large()
    if sum(f.size for f in files) > max(MAX_REQUEST, file_limit):
        raise too_large()
