"""The fake Discord's wire behaviour, checked with a bare HTTP/WebSocket client (no discord.py)."""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from tests.fakes.discord_api import FakeDiscord, UploadFile
from tests.fakes.discord_objects import Channel, Guild, Overwrite, Permission, User

MIB = 1024 * 1024
ME = "GET /users/@me"


@dataclass
class Wire:
    fake: FakeDiscord
    http: aiohttp.ClientSession
    guild: Guild
    channel: Channel
    user: User

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: bool = True,
        form: aiohttp.FormData | None = None,
        version: int = 10,
    ) -> tuple[int, Any, CIMultiDictProxy[str]]:
        headers = {"Authorization": f"Bot {self.fake.token}"} if auth else {}
        url = f"{self.fake.base_url}/api/v{version}{path}"
        data = form if form is not None else None
        kwargs: dict[str, Any] = {"headers": headers, "data": data}
        if body is not None:
            kwargs["json"] = body
        async with self.http.request(method, url, **kwargs) as response:
            text = await response.text()
            parsed = json.loads(text) if response.content_type == "application/json" else text
            return response.status, parsed, response.headers

    async def commands(self, payload: Any) -> tuple[int, Any]:
        path = f"/applications/{self.fake.application_id}/commands"
        status, body, _ = await self.call("PUT", path, payload)
        return status, body


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    async with FakeDiscord() as fake, aiohttp.ClientSession() as http:
        guild = fake.add_guild()
        channel = fake.add_text_channel(guild)
        user = fake.add_user("bob")
        fake.add_member(guild, user)
        yield Wire(fake, http, guild, channel, user)


def command(name: str = "go", **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "Run it", **extra}


def option(name: str, kind: int = 3, **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "An option", "type": kind, **extra}


def choice(name: str, value: str | None = None) -> dict[str, Any]:
    return {"name": name, "value": name if value is None else value}


def first_error(body: Any, *path: str | int) -> str:
    node = body["errors"]
    for part in path:
        node = node[str(part)]
    return str(node["_errors"][0]["code"])


async def test_json_content_type_auth_versions_and_gateway_endpoints(wire: Wire) -> None:
    status, me, headers = await wire.call("GET", "/users/@me")
    assert status == 200 and me["id"] == str(wire.fake.bot.id) and me["bot"] is True
    assert headers["Content-Type"] == "application/json" and headers["Via"] == "1.1 google"
    assert headers["X-RateLimit-Bucket"] and headers["X-RateLimit-Remaining"]
    status, body, _ = await wire.call("GET", "/users/@me", auth=False)
    assert (status, body) == (401, {"message": "401: Unauthorized", "code": 0})
    status, body, _ = await wire.call("GET", "/users/@me", version=9)
    assert (status, body["code"]) == (400, 50041)
    status, body, _ = await wire.call("GET", "/nothing/here")
    assert (status, body) == (404, {"message": "404: Not Found", "code": 0})
    status, body, _ = await wire.call("GET", "/gateway", auth=False)
    assert body == {"url": wire.fake.gateway_url}
    status, body, _ = await wire.call("GET", "/gateway/bot")
    assert body["shards"] == 1 and body["session_start_limit"]["max_concurrency"] == 1
    status, app, _ = await wire.call("GET", "/oauth2/applications/@me")
    assert app["id"] == str(wire.fake.application_id) and app["bot_public"] is False


async def test_buckets_per_channel_and_injected_429s(wire: Wire) -> None:
    fake = wire.fake
    route = "GET /channels/{channel_id}"
    fake.set_rate_limit(route, limit=2, per=30)
    path = f"/channels/{wire.channel.id}"
    remaining = [(await wire.call("GET", path))[2]["X-RateLimit-Remaining"] for _ in range(2)]
    assert remaining == ["1", "0"]
    status, body, headers = await wire.call("GET", path)
    assert status == 429 and body["message"] == "You are being rate limited."
    assert body["global"] is False and 29 < body["retry_after"] <= 30
    assert headers["Retry-After"] == "30" and headers["X-RateLimit-Scope"] == "user"
    assert headers["Via"]  # discord.py treats a 429 without Via as a Cloudflare ban
    other = fake.add_text_channel(wire.guild, "other")
    assert (await wire.call("GET", f"/channels/{other.id}"))[0] == 200  # its own bucket

    fake.fail_next(ME, retry_after=1.5, is_global=True)
    status, body, headers = await wire.call("GET", "/users/@me")
    assert (status, body["global"], headers["X-RateLimit-Global"]) == (429, True, "true")
    assert headers["Retry-After"] == "2"
    fake.fail_next(ME, cloudflare=True)
    status, body, headers = await wire.call("GET", "/users/@me")
    assert (
        status == 429 and "Via" not in headers and headers["Content-Type"].startswith("text/html")
    )
    assert [c.status for c in fake.calls(ME)] == [429, 429]


async def test_command_payloads_are_validated_like_discord(wire: Wire) -> None:
    cases: list[tuple[Any, tuple[Any, ...], str]] = [
        ([command("Go")], (0, "name"), "APPLICATION_COMMAND_INVALID_NAME"),
        ([command("has space")], (0, "name"), "APPLICATION_COMMAND_INVALID_NAME"),
        ([command(description="")], (0, "description"), "BASE_TYPE_BAD_LENGTH"),
        (
            [command(options=[option(f"o{i}") for i in range(26)])],
            (0, "options"),
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            [command(options=[option("a", choices=[choice(str(i)) for i in range(26)])])],
            (0, "options", 0, "choices"),
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            [command(options=[option("a", kind=12)])],
            (0, "options", 0, "type"),
            "BASE_TYPE_CHOICES",
        ),
        (
            [command(name_localizations={"pt_BR": "ir"})],
            (0, "name_localizations", "pt_BR"),
            "BASE_TYPE_CHOICES",
        ),
        (
            [command(description_localizations={"ru": "x" * 101})],
            (0, "description_localizations", "ru"),
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            [command(options=[option("a", description_localizations={"es-ES": ""})])],
            (0, "options", 0, "description_localizations", "es-ES"),
            "BASE_TYPE_BAD_LENGTH",
        ),
        ([command(), command()], (1, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME"),
        ([command(options=[option(f"o{i}", description="x" * 100) for i in range(25)])], (), ""),
    ]
    for payload, path, code in cases:
        status, body = await wire.commands(payload)
        if not code:
            assert status == 200
            continue
        assert (status, body["code"], body["message"]) == (400, 50035, "Invalid Form Body")
        assert first_error(body, *path) == code, payload
    wide = [choice("n" * 100, "v" * 100)] * 25
    huge = command(options=[option(f"o{i}", choices=wide) for i in range(4)])
    status, body = await wire.commands([huge])
    assert body["errors"]["0"]["_errors"][0]["code"] == "APPLICATION_COMMAND_TOO_LARGE"
    ok = [
        command("générer", name_localizations={"de": "erzeugen"}),
        command("テスト", description_localizations={"ru": "Тест", "es-419": "Prueba"}),
    ]
    status, body = await wire.commands(ok)
    assert status == 200 and [c["name"] for c in body] == ["générer", "テスト"]


async def test_command_endpoints_and_the_daily_create_limit(wire: Wire) -> None:
    fake = wire.fake
    base = f"/applications/{fake.application_id}/guilds/{wire.guild.id}/commands"
    status, created, _ = await wire.call(
        "POST", base, command("a", name_localizations={"de": "x"})
    )
    assert status == 201 and created["guild_id"] == str(wire.guild.id)
    status, again, _ = await wire.call("POST", base, command("a", description="Other"))
    assert (status, again["id"]) == (200, created["id"])  # a POST is an upsert by name
    status, edited, _ = await wire.call("PATCH", f"{base}/{created['id']}", {"name": "b"})
    assert edited["name"] == "b" and edited["version"] != created["version"]
    status, listed, _ = await wire.call("GET", base)
    assert "name_localizations" not in listed[0]
    status, listed, _ = await wire.call("GET", f"{base}?with_localizations=true")
    assert listed[0]["name_localizations"] is None
    assert (await wire.call("DELETE", f"{base}/{created['id']}"))[0] == 204
    assert (await wire.call("GET", f"{base}/{created['id']}"))[1]["code"] == 10063
    assert (await wire.call("GET", "/applications/1/commands"))[1]["code"] == 50001

    for batch in range(2):
        status, _ = await wire.commands([command(f"c{batch}x{i}") for i in range(99)])
        assert status == 200
    path = f"/applications/{fake.application_id}/commands"
    assert (await wire.call("POST", path, command("onemore")))[0] == 201  # the 200th today
    status, body = await wire.commands([command(f"d{i}") for i in range(3)])
    assert (status, body["code"]) == (429, 30034) and body["retry_after"] > 0
    assert fake.commands.creates == 1 + 99 + 99 + 1
    fake.clock.advance(24 * 3600)
    assert (await wire.commands([command("later")]))[0] == 200


async def registered(wire: Wire) -> None:
    status, _ = await wire.commands(
        [
            command("go", options=[option("file", 11, required=True), option("n", 4)]),
            command("pick", options=[option("model", autocomplete=True)]),
        ]
    )
    assert status == 200


async def test_interaction_callbacks_once_in_time_and_of_the_right_type(wire: Wire) -> None:
    fake = wire.fake
    await registered(wire)
    record = fake.slash_command("go", {"file": b"x", "n": 3}, channel=wire.channel, user=wire.user)
    assert not record.delivered  # no gateway session here: only the REST side is exercised
    callback = f"/interactions/{record.id}/{record.token}/callback"
    status, body, _ = await wire.call("POST", callback, {"type": 6}, auth=False)
    assert (status, first_error(body, "type")) == (400, "INTERACTION_RESPONSE_TYPE_INVALID")
    status, body, _ = await wire.call(
        "POST", callback, {"type": 8, "data": {"choices": []}}, auth=False
    )
    assert (status, first_error(body, "type")) == (400, "INTERACTION_RESPONSE_TYPE_INVALID")
    status, body, _ = await wire.call(
        "POST",
        f"{callback}?with_response=true",
        {"type": 4, "data": {"content": "hi"}},
        auth=False,
    )
    assert status == 200 and body["interaction"]["response_message_id"] == str(record.original_id)
    assert body["resource"]["type"] == 4 and body["resource"]["message"]["content"] == "hi"
    status, body, _ = await wire.call("POST", callback, {"type": 5}, auth=False)
    assert (status, body) == (
        400,
        {"message": "Interaction has already been acknowledged.", "code": 40060},
    )

    late = fake.slash_command("go", {"file": b"x"}, channel=wire.channel, user=wire.user)
    fake.clock.advance(3.01)
    status, body, _ = await wire.call(
        "POST", f"/interactions/{late.id}/{late.token}/callback", {"type": 5}, auth=False
    )
    assert (status, body) == (404, {"message": "Unknown interaction", "code": 10062})
    hook = f"/webhooks/{fake.application_id}/{late.token}/messages/@original"
    status, body, _ = await wire.call("GET", hook, auth=False)
    assert (status, body["code"]) == (401, 50027)  # no answer in 3 s invalidates the token

    typing = fake.autocomplete(
        "pick", {"model": "fl"}, "model", channel=wire.channel, user=wire.user
    )
    assert typing.payload["data"]["options"] == [
        {"name": "model", "type": 3, "value": "fl", "focused": True}
    ]
    answer = {"type": 8, "data": {"choices": [choice("flux")] * 26}}
    status, body, _ = await wire.call(
        "POST", f"/interactions/{typing.id}/{typing.token}/callback", answer, auth=False
    )
    assert (status, first_error(body, "data", "choices")) == (400, "BASE_TYPE_MAX_LENGTH")


async def test_webhook_endpoints_followups_and_deferred_edits(wire: Wire) -> None:
    fake = wire.fake
    await registered(wire)
    record = fake.slash_command(
        "go", {"file": b"x"}, channel=wire.channel, user=wire.user, attachment_size_limit=25 * MIB
    )
    assert record.payload["attachment_size_limit"] == 25 * MIB
    callback = f"/interactions/{record.id}/{record.token}/callback"
    assert (await wire.call("POST", callback, {"type": 5, "data": {"flags": 64}}, auth=False))[
        0
    ] == 204
    hook = f"/webhooks/{fake.application_id}/{record.token}"
    status, original, _ = await wire.call("GET", f"{hook}/messages/@original", auth=False)
    assert original["flags"] == 64 | 128  # ephemeral, loading
    # A followup while the deferred answer still loads edits that answer (documented).
    status, edited, _ = await wire.call("POST", hook, {"content": "done"}, auth=False)
    assert edited["id"] == original["id"] and edited["flags"] == 64
    form = aiohttp.FormData(quote_fields=False)
    form.add_field(
        "payload_json",
        json.dumps({"content": "big", "attachments": [{"id": 0, "filename": "b.bin"}]}),
    )
    form.add_field(
        "files[0]",
        io.BytesIO(b"\0" * (11 * MIB)),
        filename="b.bin",
        content_type="application/octet-stream",
    )
    status, followup, _ = await wire.call("POST", hook, form=form, auth=False)
    assert status == 200 and followup["attachments"][0]["size"] == 11 * MIB
    assert followup["interaction_metadata"]["original_response_message_id"] == original["id"]
    form = aiohttp.FormData(quote_fields=False)
    form.add_field(
        "files[0]",
        io.BytesIO(b"\0" * (25 * MIB + 1)),
        filename="c.bin",
        content_type="application/octet-stream",
    )
    status, body, _ = await wire.call("POST", hook, form=form, auth=False)
    assert (status, body) == (413, {"message": "Request entity too large", "code": 40005})
    status, body, _ = await wire.call(
        "PATCH",
        f"{hook}/messages/{followup['id']}",
        {"content": "small", "attachments": []},
        auth=False,
    )
    assert body["content"] == "small" and body["attachments"] == []
    assert (await wire.call("DELETE", f"{hook}/messages/@original", auth=False))[0] == 204
    status, body, _ = await wire.call("GET", f"{hook}/messages/{wire.channel.id}", auth=False)
    assert (status, body["code"]) == (404, 10008)
    status, body, _ = await wire.call(
        "GET", f"/webhooks/1/{record.token}/messages/@original", auth=False
    )
    assert (status, body["code"]) == (404, 10015)
    fake.clock.advance(15 * 60 + 1)
    status, body, _ = await wire.call("POST", hook, {"content": "late"}, auth=False)
    assert (status, body) == (401, {"message": "Invalid Webhook Token", "code": 50027})


async def test_channel_messages_multipart_mentions_replies_and_permissions(wire: Wire) -> None:
    fake = wire.fake
    path = f"/channels/{wire.channel.id}/messages"
    role = fake.add_role(wire.guild, "artists", mentionable=True)
    quiet = fake.add_role(wire.guild, "quiet")
    form = aiohttp.FormData(quote_fields=False)
    payload = {
        "content": f"<@{wire.user.id}> <@&{role.id}> <@&{quiet.id}> @everyone",
        "attachments": [{"id": 0, "filename": "renamed.png", "description": "alt"}],
    }
    form.add_field("payload_json", json.dumps(payload), content_type="application/json")
    form.add_field(
        "files[0]",
        b"\x89PNG\r\n\x1a\n" + bytes(16),
        filename="x.png",
        content_type="application/octet-stream",
    )
    status, message, _ = await wire.call("POST", path, form=form)
    assert status == 200
    assert [u["id"] for u in message["mentions"]] == [str(wire.user.id)]
    assert message["mention_roles"] == [str(role.id)]  # the bot may not ping a plain role
    assert message["mention_everyone"] is False  # nor @everyone, without MENTION_EVERYONE
    attachment = message["attachments"][0]
    assert (attachment["filename"], attachment["description"]) == ("renamed.png", "alt")
    assert attachment["content_type"] == "image/png"
    call = fake.calls("POST /channels/{channel_id}/messages")[-1]
    assert call.body["content"] == payload["content"] and call.files[0].filename == "x.png"

    reply = {"content": "re", "message_reference": {"message_id": message["id"]}}
    status, body, _ = await wire.call("POST", path, reply)
    assert body["type"] == 19 and body["referenced_message"]["id"] == message["id"]
    assert [u["id"] for u in body["mentions"]] == [str(fake.bot.id)]  # replies ping the author
    cases: list[tuple[dict[str, Any], int, int]] = [
        ({"content": "x" * 2001}, 400, 50035),
        ({}, 400, 50006),
        ({"content": "x", "allowed_mentions": {"parse": ["users"], "users": ["1"]}}, 400, 50035),
        ({"content": "x", "message_reference": {"message_id": "1"}}, 400, 50035),
        (
            {
                "content": "x",
                "components": [
                    {"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "a"}] * 2}
                ],
            },
            400,
            50035,
        ),
    ]
    for body_in, status_out, code in cases:
        status, body, _ = await wire.call("POST", path, body_in)
        assert (status, body["code"]) == (status_out, code), body_in
    loose = {"content": "x", "message_reference": {"message_id": "1", "fail_if_not_exists": False}}
    assert (await wire.call("POST", path, loose))[0] == 200
    once = {"content": "once", "nonce": "n-1", "enforce_nonce": True}
    first, second = (
        (await wire.call("POST", path, once))[1],
        (await wire.call("POST", path, once))[1],
    )
    assert first["id"] == second["id"]

    muted = fake.add_text_channel(
        wire.guild,
        "muted",
        overwrites=[Overwrite(wire.guild.id, 0, deny=Permission.SEND_MESSAGES)],
    )
    status, body, _ = await wire.call("POST", f"/channels/{muted.id}/messages", {"content": "x"})
    assert (status, body) == (403, {"message": "Missing Permissions", "code": 50013})
    hidden = fake.add_text_channel(
        wire.guild,
        "hidden",
        overwrites=[Overwrite(wire.guild.id, 0, deny=Permission.VIEW_CHANNEL)],
    )
    status, body, _ = await wire.call("GET", f"/channels/{hidden.id}")
    assert (status, body["code"]) == (403, 50001)
    status, history, _ = await wire.call("GET", f"{path}?limit=2")
    assert [m["content"] for m in history] == ["once", "x"]


async def test_cdn_serves_signed_attachment_urls_until_they_expire(wire: Wire) -> None:
    fake = wire.fake
    await registered(wire)
    record = fake.slash_command(
        "go",
        {"file": UploadFile(b"GIF89a\x02\x00\x03\x00", "a.gif", "image/gif")},
        channel=wire.channel,
        user=wire.user,
    )
    resolved = record.payload["data"]["resolved"]["attachments"]
    (attachment,) = resolved.values()
    assert (attachment["width"], attachment["height"], attachment["ephemeral"]) == (2, 3, True)
    assert record.payload["data"]["options"][0]["value"] == attachment["id"]
    async with wire.http.get(attachment["url"]) as response:
        assert response.status == 200 and await response.read() == b"GIF89a\x02\x00\x03\x00"
    async with wire.http.get(attachment["url"].replace("hm=", "hm=0")) as response:
        assert response.status == 404
    fake.clock.advance(25 * 3600)
    async with wire.http.get(attachment["url"]) as response:
        assert response.status == 404


async def ws_frames(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict[str, Any]]:
    return [json.loads((await ws.receive()).data) for _ in range(count)]


async def test_gateway_handshake_heartbeats_chunks_and_close_codes(wire: Wire) -> None:
    fake = wire.fake
    url = f"{fake.gateway_url}?v=10&encoding=json"
    identify: dict[str, Any] = {
        "op": 2,
        "d": {"token": fake.token, "intents": 1 | 512, "properties": {}},
    }
    async with wire.http.ws_connect(url) as ws:
        (hello,) = await ws_frames(ws, 1)
        assert hello == {"op": 10, "d": {"heartbeat_interval": 41250}}
        await ws.send_json({"op": 1, "d": None})
        assert await ws_frames(ws, 1) == [{"op": 11, "d": None}]
        await ws.send_json(identify)
        ready, guild = await ws_frames(ws, 2)
        assert (ready["t"], ready["s"], guild["t"], guild["s"]) == ("READY", 1, "GUILD_CREATE", 2)
        assert ready["d"]["application"] == {
            "id": str(fake.application_id),
            "flags": ready["d"]["application"]["flags"],
        }
        assert ready["d"]["guilds"] == [{"id": str(wire.guild.id), "unavailable": True}]
        assert [m["user"]["id"] for m in guild["d"]["members"]] == [str(fake.bot.id)]
        await ws.send_json(
            {"op": 8, "d": {"guild_id": str(wire.guild.id), "query": "", "limit": 0, "nonce": "n"}}
        )
        (chunk,) = await ws_frames(ws, 1)
        assert chunk["t"] == "GUILD_MEMBERS_CHUNK" and chunk["d"]["nonce"] == "n"
        assert len(chunk["d"]["members"]) == 3
        fake.user_message(wire.channel, wire.user, "hello")
        (created,) = await ws_frames(ws, 1)
        assert (created["t"], created["s"]) == ("MESSAGE_CREATE", 4)
        await ws.send_json(identify)
        assert (await ws.receive()).data == 4005

    async def closes_with(
        payloads: list[dict[str, Any]], query: str = "?v=10&encoding=json"
    ) -> int:
        async with wire.http.ws_connect(f"{fake.gateway_url}{query}") as ws:
            for payload in payloads:
                await ws.send_json(payload)
            while (message := await ws.receive()).type != aiohttp.WSMsgType.CLOSE:
                pass
            return int(message.data)

    assert await closes_with([{"op": 3, "d": {}}]) == 4003
    assert await closes_with([{"op": 2, "d": {**identify["d"], "token": "nope"}}]) == 4004
    assert (
        await closes_with([{"op": 2, "d": {**identify["d"], "intents": 1 << 15 | 1 << 8}}]) == 4014
    )
    assert await closes_with([{"op": 99, "d": None}, identify]) == 4003
    assert await closes_with([], "?v=9&encoding=json") == 4012
    async with wire.http.ws_connect(url) as ws:
        await ws_frames(ws, 1)
        await ws.send_json({"op": 6, "d": {"token": fake.token, "session_id": "nope", "seq": 1}})
        assert await ws_frames(ws, 1) == [{"op": 9, "d": False}]


async def test_gateway_zlib_stream_frames_share_one_context(wire: Wire) -> None:
    fake = wire.fake
    inflate = zlib.decompressobj()
    async with wire.http.ws_connect(
        f"{fake.gateway_url}?v=10&encoding=json&compress=zlib-stream"
    ) as ws:
        for expected in (10, 11):
            message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.BINARY
            assert message.data.endswith(b"\x00\x00\xff\xff")
            assert json.loads(inflate.decompress(message.data))["op"] == expected
            await ws.send_json({"op": 1, "d": None})
