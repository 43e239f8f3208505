"""The fake Discord's HTTP API (v10) and CDN, on aiohttp.

Every API request is recorded (`RestCall`), authenticated with `Authorization: Bot <token>`
where Discord requires it (interaction callbacks and webhook-token routes do not,
https://discord.com/developers/docs/reference#authentication), rate limited per route and
top-level resource (`discord_ratelimit`), and answered with a JSON body whose Content-Type is
exactly `application/json` and with a `Via` header as Discord's front end sends.

Routes: https://discord.com/developers/docs/events/gateway#get-gateway (and -bot),
resources/user, resources/application, interactions/application-commands#endpoints,
interactions/receiving-and-responding#endpoints, resources/message, resources/channel,
resources/guild.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.fakes.discord_calls import HEADERS_OF_INTEREST, RestCall, read_body
from tests.fakes.discord_commands import CommandStore, Scope
from tests.fakes.discord_errors import (
    DiscordError,
    field_error,
    missing_access,
    missing_permissions,
    not_found,
    unauthorized,
    unknown,
)
from tests.fakes.discord_gateway import Gateway
from tests.fakes.discord_interactions import Interactions
from tests.fakes.discord_messages import MessageService, Origin
from tests.fakes.discord_objects import (
    DEFAULT_FILE_LIMIT,
    Channel,
    JsonDict,
    Permission,
)
from tests.fakes.discord_ratelimit import CloudflareBan, RateLimits
from tests.fakes.discord_state import DiscordWorld, StoredMessage

Answer = tuple[int, Any]
Handler = Callable[[RestCall], Answer]
API_VERSION = "10"
MANAGE_MESSAGES = 1 << 13


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer whose Content-Type is exactly `application/json` (no charset)."""
    all_headers = {"Via": "1.1 google", **(headers or {})}
    if status == 204 or body is None:
        return web.Response(status=status, headers=all_headers)
    all_headers["Content-Type"] = "application/json"
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


class RestApi:
    def __init__(
        self,
        world: DiscordWorld,
        gateway: Gateway,
        messages: MessageService,
        interactions: Interactions,
        commands: CommandStore,
        limits: RateLimits,
        *,
        application_flags: int,
    ) -> None:
        self.world = world
        self.gateway = gateway
        self.messages = messages
        self.interactions = interactions
        self.commands = commands
        self.limits = limits
        self.application_flags = application_flags
        self.calls: list[RestCall] = []

    # -- routing ---------------------------------------------------------------------------

    def install(self, app: web.Application) -> None:
        def add(method: str, template: str, handler: Handler, *, auth: bool = True) -> None:
            app.router.add_route(
                method,
                f"/api/v{{version}}{template}",
                self._view(f"{method} {template}", handler, auth),
            )

        add("GET", "/gateway", self._get_gateway, auth=False)
        add("GET", "/gateway/bot", self._get_gateway_bot)
        add("GET", "/users/@me", self._get_me)
        add("POST", "/users/@me/channels", self._create_dm)
        add("GET", "/users/{user_id}", self._get_user)
        add("GET", "/oauth2/applications/@me", self._get_application)
        add("GET", "/applications/@me", self._get_application)
        for prefix in (
            "/applications/{application_id}",
            "/applications/{application_id}/guilds/{guild_id}",
        ):
            add("GET", f"{prefix}/commands", self._list_commands)
            add("PUT", f"{prefix}/commands", self._overwrite_commands)
            add("POST", f"{prefix}/commands", self._create_command)
            add("GET", f"{prefix}/commands/{{command_id}}", self._get_command)
            add("PATCH", f"{prefix}/commands/{{command_id}}", self._edit_command)
            add("DELETE", f"{prefix}/commands/{{command_id}}", self._delete_command)
        add(
            "POST",
            "/interactions/{webhook_id}/{webhook_token}/callback",
            self._callback,
            auth=False,
        )
        add("POST", "/webhooks/{webhook_id}/{webhook_token}", self._followup, auth=False)
        for target in ("@original", "{message_id}"):
            path = f"/webhooks/{{webhook_id}}/{{webhook_token}}/messages/{target}"
            add("GET", path, self._get_webhook_message, auth=False)
            add("PATCH", path, self._edit_webhook_message, auth=False)
            add("DELETE", path, self._delete_webhook_message, auth=False)
        add("GET", "/channels/{channel_id}", self._get_channel)
        add("GET", "/channels/{channel_id}/messages", self._list_messages)
        add("POST", "/channels/{channel_id}/messages", self._create_message)
        add("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message)
        add("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message)
        add("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message)
        add("POST", "/channels/{channel_id}/typing", self._typing)
        add("GET", "/guilds/{guild_id}", self._get_guild)
        add("GET", "/guilds/{guild_id}/channels", self._get_guild_channels)
        add("GET", "/guilds/{guild_id}/roles", self._get_roles)
        add("GET", "/guilds/{guild_id}/members", self._list_members)
        add("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member)
        app.router.add_get("/attachments/{channel_id}/{blob_id}/{filename}", self._cdn)
        app.router.add_route("*", "/api/v{version}/{tail:.*}", self._unknown_route)

    def _view(
        self, route: str, handler: Handler, auth: bool
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, route, handler, auth)

        return serve

    async def _serve(
        self, request: web.Request, route: str, handler: Handler, auth: bool
    ) -> web.StreamResponse:
        params = {k: v for k, v in request.match_info.items() if k != "version"}
        call = RestCall(
            method=request.method,
            path=request.path,
            route=route,
            params=params,
            query=dict(request.query),
            headers={h: request.headers[h] for h in HEADERS_OF_INTEREST if h in request.headers},
            real_time=time.perf_counter(),
        )
        self.calls.append(call)
        headers: dict[str, str] = {}
        try:
            if request.match_info.get("version") != API_VERSION:
                raise DiscordError(400, 50041, "Invalid API version provided")
            if auth and request.headers.get("Authorization") != f"Bot {self.world.token}":
                raise unauthorized()
            call.body, call.files = await read_body(request)
            headers = self.limits.check(route, _major(params))
            status, body = handler(call)
        except CloudflareBan:
            call.status = 429
            self.world.changes.notify()
            return web.Response(status=429, text="<html>banned</html>", content_type="text/html")
        except DiscordError as error:
            status, body = error.status, error.to_json()
            headers = {**headers, **error.headers}
        call.status, call.response = status, body
        self.world.changes.notify()
        return json_response(status, body, headers)

    async def _unknown_route(self, request: web.Request) -> web.StreamResponse:
        error = not_found()
        return json_response(error.status, error.to_json())

    # -- gateway, users, application -------------------------------------------------------

    def _get_gateway(self, call: RestCall) -> Answer:
        return 200, {"url": self.gateway.url}

    def _get_gateway_bot(self, call: RestCall) -> Answer:
        return 200, {
            "url": self.gateway.url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": max(0, 1000 - self.gateway.identifies),
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }

    def _get_me(self, call: RestCall) -> Answer:
        user = self.world.bot.to_json()
        user.update(verified=True, mfa_enabled=False, email=None, locale="en-US", premium_type=0)
        return 200, user

    def _get_user(self, call: RestCall) -> Answer:
        user = self.world.users.get(_int(call.params["user_id"]))
        if user is None:
            raise unknown("User", 10013)
        return 200, user.to_json()

    def _create_dm(self, call: RestCall) -> Answer:
        user = self.world.users.get(_int(call.json.get("recipient_id")))
        if user is None:
            raise field_error(["recipient_id"], "NUMBER_TYPE_COERCE", "Value is not snowflake.")
        return 200, self.world.add_dm(user).to_json()

    def _get_application(self, call: RestCall) -> Answer:
        world = self.world
        return 200, {
            "id": str(world.application_id),
            "name": world.bot.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "00" * 32,
            "flags": self.application_flags,
            "owner": world.owner.to_json(),
            "team": None,
            "bot": world.bot.to_json(),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "event_webhooks_url": None,
            "event_webhooks_status": 1,
            "tags": [],
            "integration_types_config": {"0": {}},
            "approximate_guild_count": len(world.guilds),
        }

    # -- application commands --------------------------------------------------------------

    def _scope(self, call: RestCall) -> Scope:
        if _int(call.params["application_id"]) != self.world.application_id:
            raise missing_access()
        if "guild_id" not in call.params:
            return None
        guild_id = _int(call.params["guild_id"])
        if guild_id not in self.world.guilds:
            raise missing_access()
        return guild_id

    def _list_commands(self, call: RestCall) -> Answer:
        commands = self.commands.all(self._scope(call))
        if call.query.get("with_localizations", "false").lower() not in ("true", "1"):
            commands = [_strip_localizations(c) for c in commands]
        return 200, commands

    def _overwrite_commands(self, call: RestCall) -> Answer:
        return 200, self.commands.overwrite(self._scope(call), call.body)

    def _create_command(self, call: RestCall) -> Answer:
        command, created = self.commands.create(self._scope(call), call.body)
        return (201 if created else 200), command

    def _get_command(self, call: RestCall) -> Answer:
        return 200, self.commands.get(self._scope(call), _int(call.params["command_id"]))

    def _edit_command(self, call: RestCall) -> Answer:
        scope = self._scope(call)
        return 200, self.commands.edit(scope, _int(call.params["command_id"]), call.body)

    def _delete_command(self, call: RestCall) -> Answer:
        self.commands.delete(self._scope(call), _int(call.params["command_id"]))
        return 204, None

    # -- interactions and their webhooks ---------------------------------------------------

    def _callback(self, call: RestCall) -> Answer:
        with_response = call.query.get("with_response", "false").lower() in ("true", "1")
        return self.interactions.callback(
            _int(call.params["webhook_id"]),
            call.params["webhook_token"],
            call.body,
            call.files,
            with_response,
        )

    def _token_record(self, call: RestCall) -> Any:
        return self.interactions.by_token(
            _int(call.params["webhook_id"]), call.params["webhook_token"]
        )

    def _webhook_target(self, call: RestCall) -> tuple[Any, StoredMessage]:
        record = self._token_record(call)
        message_id = call.params.get("message_id")
        if message_id is None:
            return record, self.interactions.original(record)
        return record, self.interactions.owned(record, _int(message_id))

    def _followup(self, call: RestCall) -> Answer:
        record = self._token_record(call)
        return 200, self.interactions.followup(record, call.body, call.files).data

    def _get_webhook_message(self, call: RestCall) -> Answer:
        return 200, self._webhook_target(call)[1].data

    def _edit_webhook_message(self, call: RestCall) -> Answer:
        record, message = self._webhook_target(call)
        return 200, self.interactions.edit(record, message, call.body, call.files).data

    def _delete_webhook_message(self, call: RestCall) -> Answer:
        self.messages.delete(self._webhook_target(call)[1])
        return 204, None

    # -- channels and messages -------------------------------------------------------------

    def _visible_channel(self, call: RestCall) -> Channel:
        channel = self.world.channel(_int(call.params["channel_id"]))
        if not self._can(channel, Permission.VIEW_CHANNEL):
            raise missing_access()
        return channel

    def _can(self, channel: Channel, permission: int) -> bool:
        return bool(self.world.permissions(channel, self.world.bot.id) & permission)

    def _get_channel(self, call: RestCall) -> Answer:
        return 200, self._visible_channel(call).to_json()

    def _list_messages(self, call: RestCall) -> Answer:
        channel = self._visible_channel(call)
        if not self._can(channel, Permission.READ_MESSAGE_HISTORY):
            return 200, []
        limit = min(100, max(1, int(call.query.get("limit", "50"))))
        stored = [
            m for m in self.world.messages.get(channel.id, []) if not m.deleted and not m.ephemeral
        ]
        if "before" in call.query:
            stored = [m for m in stored if m.id < _int(call.query["before"])]
        if "after" in call.query:
            stored = [m for m in stored if m.id > _int(call.query["after"])][:limit]
        return 200, [m.data for m in reversed(stored[-limit:])]

    def _create_message(self, call: RestCall) -> Answer:
        channel = self._visible_channel(call)
        send = (
            Permission.SEND_MESSAGES_IN_THREADS if channel.is_thread else Permission.SEND_MESSAGES
        )
        if not self._can(channel, send):
            raise missing_permissions()
        if call.files and not self._can(channel, Permission.ATTACH_FILES):
            raise missing_permissions()
        limit = DEFAULT_FILE_LIMIT
        if channel.guild_id is not None:
            limit = self.world.guild_of(channel).file_limit
        origin = Origin(author=self.world.bot, file_limit=limit)
        return 200, self.messages.create(channel, call.body, call.files, origin).data

    def _channel_message(self, call: RestCall) -> StoredMessage:
        channel = self._visible_channel(call)
        message = self.world.message(channel.id, _int(call.params["message_id"]))
        if message.ephemeral:
            raise unknown("Message", 10008)
        return message

    def _get_message(self, call: RestCall) -> Answer:
        return 200, self._channel_message(call).data

    def _edit_message(self, call: RestCall) -> Answer:
        message = self._channel_message(call)
        if message.data["author"]["id"] != str(self.world.bot.id) or "webhook_id" in message.data:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        channel = self.world.channel(message.channel_id)
        limit = self.world.guild_of(channel).file_limit if channel.guild_id else DEFAULT_FILE_LIMIT
        return 200, self.messages.edit(message, call.body, call.files, file_limit=limit).data

    def _delete_message(self, call: RestCall) -> Answer:
        message = self._channel_message(call)
        channel = self.world.channel(message.channel_id)
        own = message.data["author"]["id"] == str(self.world.bot.id)
        if not own and not self._can(channel, MANAGE_MESSAGES):
            raise missing_permissions()
        self.messages.delete(message)
        return 204, None

    def _typing(self, call: RestCall) -> Answer:
        self._visible_channel(call)
        return 204, None

    # -- guilds ----------------------------------------------------------------------------

    def _get_guild(self, call: RestCall) -> Answer:
        guild = self.world.guild(_int(call.params["guild_id"]))
        data = guild.to_json()
        if call.query.get("with_counts", "false").lower() in ("true", "1"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return 200, data

    def _get_guild_channels(self, call: RestCall) -> Answer:
        guild = self.world.guild(_int(call.params["guild_id"]))
        channels = [self.world.channels[c] for c in guild.channel_ids]
        return 200, [c.to_json() for c in channels if not c.is_thread]

    def _get_roles(self, call: RestCall) -> Answer:
        guild = self.world.guild(_int(call.params["guild_id"]))
        return 200, [r.to_json() for r in guild.roles.values()]

    def _list_members(self, call: RestCall) -> Answer:
        guild = self.world.guild(_int(call.params["guild_id"]))
        limit = min(1000, max(1, int(call.query.get("limit", "1"))))
        after = _int(call.query.get("after", "0"))
        members = sorted(guild.members.values(), key=lambda m: m.user.id)
        return 200, [m.to_json() for m in members if m.user.id > after][:limit]

    def _get_member(self, call: RestCall) -> Answer:
        guild = self.world.guild(_int(call.params["guild_id"]))
        member = guild.members.get(_int(call.params["user_id"]))
        if member is None:
            raise unknown("Member", 10007)
        return 200, member.to_json()

    # -- the CDN ---------------------------------------------------------------------------

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        blob = self.world.blobs.get(_int(request.match_info["blob_id"]))
        expires = request.query.get("ex", "")
        fresh = expires and int(expires, 16) > self.world.clock.now().timestamp()
        if (
            blob is None
            or blob.filename != request.match_info["filename"]
            or not self.world.check_signature(blob.id, expires, request.query.get("hm", ""))
            or not fresh
        ):
            return web.Response(status=404, text="This content is no longer available.")
        return web.Response(body=blob.data, headers={"Content-Type": blob.content_type})


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise not_found() from None


def _major(params: dict[str, str]) -> str:
    """The top-level resource a bucket is keyed by (channel, guild, or webhook + token)."""
    for key in ("channel_id", "guild_id"):
        if key in params:
            return params[key]
    if "webhook_id" in params:
        return f"{params['webhook_id']}+{params.get('webhook_token', '')}"
    return ""


def _strip_localizations(command: JsonDict) -> JsonDict:
    def strip(item: Any) -> Any:
        if isinstance(item, dict):
            return {
                k: strip(v)
                for k, v in item.items()
                if k not in ("name_localizations", "description_localizations")
            }
        if isinstance(item, list):
            return [strip(v) for v in item]
        return item

    result: JsonDict = strip(command)
    return result
