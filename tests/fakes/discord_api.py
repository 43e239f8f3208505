"""A local Discord for tests: REST v10, Gateway v10 and a CDN on one aiohttp server.

Start it with `async with FakeDiscord() as discord_fake:`; build a world (`add_guild`,
`add_text_channel`, `add_thread`, `add_dm`, `add_user`); point a client at `api_base` and
`gateway_url`; act as users (`slash_command`, `autocomplete`, `press_button`,
`user_message`); inject faults (`fail_next`, `set_rate_limit`, `gateway.close`,
`gateway.reconnect`); read what the client did (`calls`, `messages_in`, `commands`,
`interactions`, `gateway.frames`) and await it with `wait_for`, never sleeps.

The fake follows Discord's public documentation (https://discord.com/developers/docs), not a
client library's expectations; each module cites the pages it implements.

    async with FakeDiscord() as fake:
        guild = fake.add_guild("Lab")
        channel = fake.add_text_channel(guild, "renders")
        ann = fake.add_user("ann")
        fake.add_member(guild, ann)
        async with running(client, fake):          # tests.fakes.discord_kit
            await tree.sync()
            record = fake.slash_command("generate", {"prompt": "a cat"}, channel=channel, user=ann)
            await fake.wait_for_response(record)
            await fake.wait_for(lambda: len(fake.messages_in(channel)) == 2)
        assert fake.commands.creates == 1 and record.response.type == 5
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web

from tests.fakes.clock import FakeClock
from tests.fakes.discord_calls import RestCall
from tests.fakes.discord_commands import CommandStore
from tests.fakes.discord_errors import DiscordError
from tests.fakes.discord_gateway import Gateway
from tests.fakes.discord_interaction_payloads import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    Invocation,
    OptionBuilder,
    UploadFile,
    base_payload,
    command_data,
    component_data,
    leaf_options,
)
from tests.fakes.discord_interactions import Callback, InteractionRecord, Interactions
from tests.fakes.discord_messages import MessageService, Origin
from tests.fakes.discord_objects import (
    DEFAULT_FILE_LIMIT,
    Channel,
    Guild,
    JsonDict,
    Member,
    Overwrite,
    Role,
    User,
)
from tests.fakes.discord_ratelimit import Fault, RateLimits
from tests.fakes.discord_rest import RestApi
from tests.fakes.discord_state import DiscordWorld, StoredMessage

__all__ = ["FakeDiscord", "InteractionRecord", "StoredMessage", "UploadFile"]

T = TypeVar("T")

APPLICATION_FLAGS = (1 << 15) | (1 << 19) | (1 << 23)
"""GATEWAY_GUILD_MEMBERS_LIMITED, GATEWAY_MESSAGE_CONTENT_LIMITED, APPLICATION_COMMAND_BADGE:
an unverified bot with the members and message content intents switched on
(https://discord.com/developers/docs/resources/application#application-object-application-flags)."""
MIB = 1024 * 1024


class FakeDiscord:
    def __init__(
        self,
        *,
        token: str = "FAKE.discord-bot-token.for-tests",
        bot_name: str = "comfybot",
        clock: FakeClock | None = None,
        application_flags: int = APPLICATION_FLAGS,
        heartbeat_interval_ms: int = 41_250,
        resume_gateway_url: str | None = None,
    ) -> None:
        """`resume_gateway_url` overrides what READY tells the client to resume at (default:
        this server's `/gateway/resume`, a path distinct from `gateway_url`)."""
        self.clock = clock or FakeClock(datetime.now(UTC))
        self.world = DiscordWorld(self.clock, token, bot_name)
        self.gateway = Gateway(
            self.world,
            application_flags=application_flags,
            heartbeat_interval_ms=heartbeat_interval_ms,
        )
        self.messages = MessageService(self.world, self.gateway)
        self.interactions = Interactions(self.world, self.gateway, self.messages)
        self.commands = CommandStore(self.world.application_id, self.world.snowflakes, self.clock)
        self.limits = RateLimits()
        self.rest = RestApi(
            self.world,
            self.gateway,
            self.messages,
            self.interactions,
            self.commands,
            self.limits,
            application_flags=application_flags,
        )
        self._resume_override = resume_gateway_url
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=256 * MIB)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/{name}", self.gateway.handle)
        self.rest.install(app)
        self._runner = web.AppRunner(app, shutdown_timeout=1, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        self.world.http_base = self.base_url
        self.gateway.url = f"ws://127.0.0.1:{port}/gateway"
        self.gateway.resume_url = self._resume_override or f"ws://127.0.0.1:{port}/gateway/resume"
        return self.base_url

    async def stop(self) -> None:
        await self.gateway.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def token(self) -> str:
        return self.world.token

    @property
    def api_base(self) -> str:
        """What a client uses as its REST base, e.g. http://127.0.0.1:PORT/api/v10."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.gateway.url

    @property
    def resume_gateway_url(self) -> str:
        return self.gateway.resume_url

    @property
    def application_id(self) -> int:
        return self.world.application_id

    @property
    def bot(self) -> User:
        return self.world.bot

    # -- building the world ----------------------------------------------------------------

    def add_user(self, username: str, global_name: str | None = None) -> User:
        return self.world.add_user(username, global_name)

    def add_guild(
        self, name: str = "Test Guild", *, locale: str = "en-US", premium_tier: int = 0
    ) -> Guild:
        """A guild the bot is in (owned by the application's owner), with @everyone."""
        return self.world.add_guild(name, locale=locale, premium_tier=premium_tier)

    def add_member(self, guild: Guild, user: User, *, roles: list[Role] | None = None) -> Member:
        return self.world.add_member(guild, user, roles=[r.id for r in roles or []])

    def add_role(
        self, guild: Guild, name: str, permissions: int = 0, *, mentionable: bool = False
    ) -> Role:
        return self.world.add_role(guild, name, permissions, mentionable=mentionable)

    def add_text_channel(
        self,
        guild: Guild,
        name: str = "general",
        *,
        topic: str | None = None,
        overwrites: list[Overwrite] | None = None,
    ) -> Channel:
        return self.world.add_text_channel(guild, name, topic=topic, overwrites=overwrites)

    def add_thread(
        self, parent: Channel, name: str = "thread", *, private: bool = False
    ) -> Channel:
        return self.world.add_thread(parent, name, private=private)

    def add_dm(self, user: User) -> Channel:
        return self.world.add_dm(user)

    # -- acting as users -------------------------------------------------------------------

    def slash_command(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        channel: Channel,
        user: User,
        locale: str = "en-US",
        member_permissions: int | None = None,
        app_permissions: int | None = None,
        attachment_size_limit: int | None = None,
    ) -> InteractionRecord:
        """A user runs `/name` ("cmd" or "cmd sub" or "cmd group sub") with typed `options`
        (str, int, float, bool, UploadFile/bytes for attachments, ids or objects for users,
        roles and channels). The command must be registered where the channel is."""
        where = Invocation(
            channel, user, locale, member_permissions, app_permissions, attachment_size_limit
        )
        path = name.split()
        command = self._registered(path[0], channel, user)
        builder = OptionBuilder(self.world, channel)
        built = builder.build(leaf_options(command, path), options or {})
        record = self._record(APPLICATION_COMMAND, where)
        record.payload["data"] = command_data(command, path, built, builder.resolved)
        record.command_name = name
        record.command_type = int(command["type"])
        return self.interactions.send(record)

    def autocomplete(
        self,
        name: str,
        options: dict[str, Any],
        focused: str,
        *,
        channel: Channel,
        user: User,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """A user typing into option `focused`; `options` holds the partial values so far."""
        where = Invocation(channel, user, locale)
        path = name.split()
        command = self._registered(path[0], channel, user)
        definitions = leaf_options(command, path)
        builder = OptionBuilder(self.world, channel, partial=True)
        built = builder.build(definitions, options, focused=focused)
        record = self._record(AUTOCOMPLETE, where)
        record.payload["data"] = command_data(command, path, built, builder.resolved)
        record.command_name = name
        record.focused_type = next(d["type"] for d in definitions if d["name"] == focused)
        return self.interactions.send(record)

    def press_button(
        self,
        message: StoredMessage | int,
        custom_id: str,
        *,
        user: User,
        locale: str = "en-US",
        member_permissions: int | None = None,
    ) -> InteractionRecord:
        """A user presses the button `custom_id` on `message` (it must be there, enabled)."""
        stored = message if isinstance(message, StoredMessage) else self._message(message)
        channel = self.world.channel(stored.channel_id)
        data = component_data(stored, custom_id)
        record = self._record(
            MESSAGE_COMPONENT, Invocation(channel, user, locale, member_permissions)
        )
        record.payload["data"] = data
        record.payload["message"] = stored.data
        record.component_message_id = stored.id
        return self.interactions.send(record)

    def user_message(self, channel: Channel, user: User, content: str) -> StoredMessage:
        """A user posts `content` (dispatched as MESSAGE_CREATE)."""
        limit = self.world.guild_of(channel).file_limit if channel.guild_id else DEFAULT_FILE_LIMIT
        origin = Origin(author=user, file_limit=limit)
        return self.messages.create(channel, {"content": content}, [], origin)

    def _record(self, kind: int, where: Invocation) -> InteractionRecord:
        record = self.interactions.new_record(kind, where.channel, where.user, DEFAULT_FILE_LIMIT)
        record.payload = base_payload(self.world, kind, record.id, record.token, where)
        record.file_limit = int(record.payload["attachment_size_limit"])
        return record

    def _registered(self, name: str, channel: Channel, user: User) -> JsonDict:
        """The command Discord would run: the guild's own first, then the global one."""
        found = None
        if channel.guild_id is not None:
            found = self.commands.find(name, channel.guild_id)
        if found is None:
            found = self.commands.find(name, None)
            if found is not None and channel.guild_id is None:
                contexts = found.get("contexts")
                if found.get("dm_permission") is False or (
                    contexts is not None and 1 not in contexts
                ):
                    found = None
        if found is None:
            raise ValueError(f"/{name} is not registered where channel {channel.id} is")
        required = found.get("default_member_permissions")
        if required is not None and channel.guild_id is not None:
            have = self.world.permissions(channel, user.id)
            if have & int(required) != int(required):
                raise ValueError(f"user {user.id} lacks the permissions /{name} requires")
        return found

    def _message(self, message_id: int) -> StoredMessage:
        stored = self.world.find_message(message_id)
        if stored is None or stored.deleted:
            raise ValueError(f"no message {message_id}")
        return stored

    # -- faults and limits -----------------------------------------------------------------

    def fail_next(
        self,
        route: str,
        times: int = 1,
        *,
        retry_after: float = 0.05,
        is_global: bool = False,
        cloudflare: bool = False,
        error: DiscordError | None = None,
    ) -> None:
        """Answer the next `times` requests of `route` (a template such as
        "POST /channels/{channel_id}/messages") with a 429 carrying `retry_after`, a
        Cloudflare-style 429 (no JSON, no `Via`), or `error`."""
        fault = Fault(retry_after, is_global, "global" if is_global else "user", cloudflare, error)
        self.limits.fail_next(route, fault, times)

    def set_rate_limit(self, route: str, limit: int, per: float) -> None:
        """Enforce `limit` requests per `per` real seconds per top-level resource on `route`."""
        self.limits.set_limit(route, limit, per)

    # -- what tests read -------------------------------------------------------------------

    def calls(self, route: str | None = None, *, ok: bool | None = None) -> list[RestCall]:
        """Requests the client made, optionally of one route and/or only (un)successful ones."""
        return [
            c
            for c in self.rest.calls
            if (route is None or c.route == route) and (ok is None or c.ok == ok)
        ]

    def messages_in(
        self, channel: Channel | int, *, include_deleted: bool = False
    ) -> list[StoredMessage]:
        """Every message in a channel, oldest first (ephemeral ones included, flagged)."""
        channel_id = channel if isinstance(channel, int) else channel.id
        stored = self.world.messages.get(channel_id, [])
        return [m for m in stored if include_deleted or not m.deleted]

    def interaction(self, interaction_id: int) -> InteractionRecord:
        return self.interactions.records[interaction_id]

    async def wait_for(self, condition: Callable[[], T], within: float = 5.0) -> T:
        """Wait until `condition()` is truthy (re-checked after every change); return it."""
        return await self.world.changes.wait_for(condition, within)

    async def wait_for_call(
        self,
        route: str,
        where: Callable[[RestCall], bool] = lambda c: True,
        count: int = 1,
        within: float = 5.0,
    ) -> RestCall:
        """The `count`-th finished request of `route` matching `where`."""

        def found() -> RestCall | None:
            matching = [c for c in self.calls(route) if c.status and where(c)]
            return matching[count - 1] if len(matching) >= count else None

        call = await self.wait_for(found, within)
        assert call is not None
        return call

    async def wait_for_response(self, record: InteractionRecord, within: float = 5.0) -> Callback:
        """The accepted callback of an interaction."""
        response = await self.wait_for(lambda: record.response, within)
        assert response is not None
        return response
