"""A real discord.py client against the fake Discord, over HTTP and WebSocket on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import yarl

from tests.fakes.discord_api import FakeDiscord, UploadFile
from tests.fakes.discord_kit import discord, make_client, running
from tests.fakes.discord_objects import Channel, Guild, User

app_commands = discord.app_commands
MESSAGES = "POST /channels/{channel_id}/messages"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000002000000030806000000b9eade810000000d49444154"
    "789c63f8cfc0f01f0007fe02fe8ef5c6e00000000049454e44ae426082"
)


@dataclass
class World:
    fake: FakeDiscord
    guild: Guild
    channel: Channel
    user: User


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with FakeDiscord() as fake:
        guild = fake.add_guild("Comfy Lab")
        channel = fake.add_text_channel(guild, "renders")
        user = fake.add_user("ann", "Ann")
        fake.add_member(guild, user)
        yield World(fake, guild, channel, user)


class Rerun(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"rerun:(?P<run>[a-z0-9]+)",
):
    """A button whose custom_id carries a run id, so it works on messages from before a restart."""

    presses: asyncio.Queue[str]

    def __init__(self, run: str) -> None:
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label="Rerun", custom_id=f"rerun:{run}", style=discord.ButtonStyle.primary
        )
        super().__init__(button)
        self.run = run

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Rerun:
        return cls(match["run"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message(f"rerunning {self.run}", ephemeral=True)
        self.presses.put_nowait(self.run)


def generate_tree(client: discord.Client, seen: asyncio.Queue[Any]) -> app_commands.CommandTree:
    tree = app_commands.CommandTree(client)

    @tree.command(name="generate", description="Render a workflow")
    @app_commands.describe(prompt="What to draw", image="A start image")
    @app_commands.rename(cfg="guidance")
    async def generate(
        interaction: discord.Interaction[Any],
        prompt: str,
        image: discord.Attachment,
        steps: app_commands.Range[int, 1, 150] = 20,
        cfg: float = 7.0,
        hires: bool = False,
    ) -> None:
        await interaction.response.defer(thinking=True)
        seen.put_nowait((interaction, prompt, await image.read(), steps, cfg, hires))

    @tree.command(name="ping", description="Answer at once")
    async def ping(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message("pong", ephemeral=True)
        seen.put_nowait(interaction)

    @tree.command(name="model", description="Pick a model")
    async def model(interaction: discord.Interaction[Any], name: str) -> None:
        await interaction.response.send_message(name)

    @model.autocomplete("name")
    async def model_names(
        interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        names = ["sdxl", "sd15", "flux"]
        return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

    return tree


async def test_identify_ready_and_guild_create(world: World) -> None:
    fake = world.fake
    thread = fake.add_thread(world.channel, "notes")
    client = make_client()
    async with running(client, fake):
        assert client.user is not None and client.user.id == fake.bot.id
        assert client.application_id == fake.application_id
        guild = client.get_guild(world.guild.id)
        assert guild is not None and guild.name == "Comfy Lab"
        assert guild.me.guild_permissions.send_messages
        assert isinstance(guild.get_channel(world.channel.id), discord.TextChannel)
        assert isinstance(guild.get_thread(thread.id), discord.Thread)
    first = fake.gateway.connections[0]
    assert first.path == "/gateway"
    assert first.query == {"v": "10", "encoding": "json", "compress": "zlib-stream"}
    assert first.compress == "zlib-stream"  # discord.py decompressed our zlib frames
    ops = [(f.sent, f.op, f.t) for f in fake.gateway.frames[:6]]
    assert ops[0] == (True, 10, None)
    assert (False, 2, None) in ops and (True, 11, None) in ops
    identify = next(f.d for f in fake.gateway.received if f.op == 2)
    assert identify["intents"] == discord.Intents.default().value
    ready = fake.gateway.dispatched("READY")[0]
    assert ready.s == 1 and ready.d["resume_gateway_url"] == fake.resume_gateway_url
    assert [f.s for f in fake.gateway.dispatched("GUILD_CREATE")] == [2]
    # Client.close() asks for 1000, but aiohttp first wakes the reading task, whose own
    # close(4000) goes out first: the session stays resumable on Discord's side.
    assert first.client_close_code == 4000
    assert not fake.gateway.sessions[str(first.session_id)].invalidated


async def test_command_sync_is_validated_recorded_and_hashable(world: World) -> None:
    fake = world.fake
    client = make_client()
    tree = generate_tree(client, asyncio.Queue())
    target = discord.Object(world.guild.id)
    tree.copy_global_to(guild=target)
    async with running(client, fake):
        payload = [c.to_dict(tree) for c in tree.get_commands(guild=target)]
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        synced = await tree.sync(guild=target)
        assert sorted(c.name for c in synced) == ["generate", "model", "ping"]
        assert fake.commands.overwrites == 1 and fake.commands.creates == 3
        sent = fake.calls("PUT /applications/{application_id}/guilds/{guild_id}/commands")[0]
        assert sent.body == payload  # a hash of to_dict() is what Discord received
        assert hashlib.sha256(json.dumps(sent.body, sort_keys=True).encode()).hexdigest() == digest
        options = fake.commands.find("generate", world.guild.id)["options"]  # type: ignore[index]
        assert [(o["name"], o["type"], o.get("required", False)) for o in options] == [
            ("prompt", 3, True),
            ("image", 11, True),
            ("steps", 4, False),
            ("guidance", 10, False),
            ("hires", 5, False),
        ]
        await tree.sync(guild=target)  # same commands: ids kept, nothing created
        assert fake.commands.overwrites == 2 and fake.commands.creates == 3

        bad: list[dict[str, Any]] = [
            {"name": "Upper", "description": "x"},
            {"name": "ok", "description": "d" * 101},
            {
                "name": "order",
                "description": "x",
                "options": [
                    {"type": 3, "name": "a", "description": "x"},
                    {"type": 3, "name": "b", "description": "x", "required": True},
                ],
            },
        ]
        with pytest.raises(discord.HTTPException) as caught:
            await client.http.bulk_upsert_guild_commands(
                fake.application_id, world.guild.id, payload=bad
            )
        assert (caught.value.status, caught.value.code) == (400, 50035)
        errors = fake.calls(ok=False)[-1].response["errors"]
        assert errors["0"]["name"]["_errors"][0]["code"] == "APPLICATION_COMMAND_INVALID_NAME"
        assert errors["1"]["description"]["_errors"][0]["code"] == "BASE_TYPE_BAD_LENGTH"
        assert "required" in errors["2"]["options"]["1"]
        assert fake.commands.creates == 3


async def test_slash_command_defer_edit_and_result_message(world: World) -> None:
    fake = world.fake
    seen: asyncio.Queue[Any] = asyncio.Queue()
    client = make_client()
    tree = generate_tree(client, seen)
    async with running(client, fake):
        await tree.sync()
        record = fake.slash_command(
            "generate",
            {
                "prompt": "a cat",
                "image": UploadFile(PNG, "start.png"),
                "steps": 30,
                "guidance": 4.5,
            },
            channel=world.channel,
            user=world.user,
            locale="de",
        )
        assert record.delivered
        interaction, prompt, image, steps, cfg, hires = await asyncio.wait_for(seen.get(), 5)
        assert (prompt, image, steps, cfg, hires) == ("a cat", PNG, 30, 4.5, False)
        assert interaction.locale is discord.Locale.german
        assert interaction.guild_locale is discord.Locale.american_english
        assert interaction.user.id == world.user.id and interaction.filesize_limit == 10 << 20
        assert interaction.app_permissions.attach_files

        await interaction.edit_original_response(content="Rendering…")
        view = discord.ui.View(timeout=None)
        view.add_item(Rerun("r42"))
        channel = interaction.channel
        assert isinstance(channel, discord.TextChannel)
        await channel.send(
            f"<@{world.user.id}> done",
            files=[discord.File(_bytes(PNG), "one.png"), discord.File(_bytes(PNG), "two.png")],
            view=view,
            allowed_mentions=discord.AllowedMentions(
                everyone=False,
                roles=False,
                replied_user=False,
                users=[discord.Object(world.user.id)],
            ),
        )

    response = record.response
    assert response is not None and response.type == 5 and not response.ephemeral
    assert response.clock_seconds == 0.0 and 0 < response.real_seconds < 5
    messages = fake.messages_in(world.channel)
    original, result = messages
    assert original.id == record.original_id and not original.loading
    assert original.content == "Rendering…" and original.data["type"] == 20
    assert original.data["interaction_metadata"]["user"]["id"] == str(world.user.id)
    assert result.filenames == ["one.png", "two.png"] and result.file("two.png") == PNG
    assert result.mention_ids == [world.user.id]
    assert result.custom_ids == ["rerun:r42"]
    upload = fake.calls(MESSAGES)[-1]
    assert [f.field for f in upload.files] == ["files[0]", "files[1]"]
    assert upload.body["allowed_mentions"] == {"parse": [], "users": [world.user.id]}
    assert upload.body["attachments"] == [
        {"id": 0, "filename": "one.png"},
        {"id": 1, "filename": "two.png"},
    ]


async def test_thread_dm_ephemeral_and_autocomplete(world: World) -> None:
    fake = world.fake
    seen: asyncio.Queue[Any] = asyncio.Queue()
    thread = fake.add_thread(world.channel, "batch")
    dm = fake.add_dm(world.user)
    client = make_client()
    tree = generate_tree(client, seen)
    async with running(client, fake):
        await tree.sync()  # global commands work in guild channels, threads and DMs
        in_thread = fake.slash_command("ping", channel=thread, user=world.user)
        interaction = await asyncio.wait_for(seen.get(), 5)
        assert isinstance(interaction.channel, discord.Thread)
        in_dm = fake.slash_command("ping", channel=dm, user=world.user)
        interaction = await asyncio.wait_for(seen.get(), 5)
        assert interaction.guild is None and isinstance(interaction.user, discord.User)
        assert isinstance(interaction.channel, discord.DMChannel)
        typing = fake.autocomplete(
            "model", {"name": "sd"}, "name", channel=world.channel, user=world.user
        )
        await fake.wait_for_response(typing)
    for record in (in_thread, in_dm):
        assert record.response is not None and record.response.ephemeral
    assert [m.ephemeral for m in fake.messages_in(thread)] == [True]
    assert in_dm.payload["context"] == 1 and "member" not in in_dm.payload
    assert typing.choices == [{"name": "sdxl", "value": "sdxl"}, {"name": "sd15", "value": "sd15"}]


async def test_button_on_an_old_message_reaches_a_dynamic_item_after_restart(
    world: World,
) -> None:
    fake = world.fake
    first = make_client()
    async with running(first, fake):
        channel = first.get_channel(world.channel.id)
        assert isinstance(channel, discord.TextChannel)
        view = discord.ui.View(timeout=None)
        view.add_item(Rerun("abc123"))
        await channel.send("Result", view=view)
    old = fake.messages_in(world.channel)[0]

    class Fresh(discord.Client):
        async def setup_hook(self) -> None:
            self.add_dynamic_items(Rerun)

    Rerun.presses = asyncio.Queue()
    second = Fresh(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    async with running(second, fake):
        press = fake.press_button(old, "rerun:abc123", user=world.user)
        assert await asyncio.wait_for(Rerun.presses.get(), 5) == "abc123"
    assert fake.gateway.identifies == 2
    response = press.response
    assert response is not None and response.type == 4 and response.ephemeral
    reply = fake.messages_in(world.channel)[-1]
    assert reply.content == "rerunning abc123"
    assert reply.data["message_reference"]["message_id"] == str(old.id)


class Controls(discord.ui.View):
    """A persistent view: fixed custom_ids, no timeout, registered with add_view at start."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Done", custom_id="controls:done")
    async def done(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Controls]
    ) -> None:
        await interaction.response.edit_message(content="finished", view=None)  # type 7

    @discord.ui.button(label="Later", custom_id="controls:later")
    async def later(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Controls]
    ) -> None:
        await interaction.response.defer()  # type 6: the original response is this message
        await interaction.edit_original_response(content="edited later")


async def test_component_updates_and_a_file_in_the_first_response(world: World) -> None:
    fake = world.fake
    client = make_client()
    tree = app_commands.CommandTree(client)

    @tree.command(name="card", description="Answer with a file and buttons")
    async def card(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message(
            "card", file=discord.File(_bytes(PNG), "card.png"), view=Controls()
        )

    async with running(client, fake):
        client.add_view(Controls())
        await tree.sync()
        record = fake.slash_command("card", channel=world.channel, user=world.user)
        await fake.wait_for_response(record)
        card_message = fake.messages_in(world.channel)[0]
        assert card_message.filenames == ["card.png"]
        assert card_message.custom_ids == ["controls:done", "controls:later"]
        later = fake.press_button(card_message, "controls:later", user=world.user)
        await fake.wait_for(lambda: card_message.content == "edited later")
        done = fake.press_button(card_message, "controls:done", user=world.user)
        await fake.wait_for_response(done)
    assert record.response is not None and record.response.files[0].filename == "card.png"
    assert [r.response.type for r in (later, done) if r.response] == [6, 7]
    assert card_message.content == "finished" and card_message.buttons == []
    assert len(fake.messages_in(world.channel)) == 1


async def test_a_429_on_a_channel_message_is_retried_after_retry_after(world: World) -> None:
    fake = world.fake
    fake.fail_next(MESSAGES, retry_after=0.05)
    client = make_client()
    async with running(client, fake):
        channel = client.get_channel(world.channel.id)
        assert isinstance(channel, discord.TextChannel)
        # discord.py sleeps retry_after (0.05 s, real time), rewinds the file and sends again.
        sent = await channel.send("after a rate limit", file=discord.File(_bytes(PNG), "a.png"))
    limited, accepted = fake.calls(MESSAGES)
    assert (limited.status, accepted.status) == (429, 200)
    assert limited.response == {
        "message": "You are being rate limited.",
        "retry_after": 0.05,
        "global": False,
    }
    assert accepted.real_time - limited.real_time >= 0.05
    assert limited.files[0].data == accepted.files[0].data == PNG
    assert [m.id for m in fake.messages_in(world.channel)] == [sent.id]


async def test_rate_limit_headers_pace_discord_py_without_a_429(world: World) -> None:
    fake = world.fake
    fake.set_rate_limit(MESSAGES, limit=2, per=0.2)
    client = make_client()
    async with running(client, fake):
        channel = client.get_channel(world.channel.id)
        assert isinstance(channel, discord.TextChannel)
        for n in range(3):
            await channel.send(f"message {n}")
    calls = fake.calls(MESSAGES)
    assert [c.status for c in calls] == [200, 200, 200] and fake.limits.limited == []
    assert calls[2].real_time - calls[0].real_time >= 0.15  # it waited for the reset


async def test_interaction_token_expires_with_the_fake_clock(world: World) -> None:
    fake = world.fake
    seen: asyncio.Queue[Any] = asyncio.Queue()
    client = make_client()
    tree = generate_tree(client, seen)
    async with running(client, fake):
        await tree.sync()
        fake.slash_command(
            "generate", {"prompt": "x", "image": PNG}, channel=world.channel, user=world.user
        )
        interaction = (await asyncio.wait_for(seen.get(), 5))[0]
        fake.clock.advance(14 * 60)
        await interaction.edit_original_response(content="still in time")
        fake.clock.advance(61)
        with pytest.raises(discord.HTTPException) as caught:
            await interaction.edit_original_response(content="too late")
        assert (caught.value.status, caught.value.code) == (401, 50027)
        with pytest.raises(discord.HTTPException):
            await interaction.followup.send("too late as well")
    assert fake.calls(ok=False)[-1].response == {"message": "Invalid Webhook Token", "code": 50027}


async def test_a_late_first_response_is_unknown_interaction(world: World) -> None:
    fake = world.fake
    go = asyncio.Event()
    errors: asyncio.Queue[BaseException] = asyncio.Queue()
    client = make_client()
    tree = app_commands.CommandTree(client)

    @tree.command(name="slow", description="Answers late")
    async def slow(interaction: discord.Interaction[Any]) -> None:
        await go.wait()
        try:
            await interaction.response.defer()
        except discord.HTTPException as error:
            errors.put_nowait(error)

    async with running(client, fake):
        await tree.sync()
        record = fake.slash_command("slow", channel=world.channel, user=world.user)
        await fake.wait_for(lambda: fake.gateway.dispatched("INTERACTION_CREATE"))
        fake.clock.advance(3.5)
        go.set()
        error = await asyncio.wait_for(errors.get(), 5)
    assert isinstance(error, discord.NotFound) and error.code == 10062
    assert [c.status for c in record.callbacks] == [404]


async def test_reconnect_resumes_at_the_resume_url_and_replays(world: World) -> None:
    fake = world.fake
    seen: asyncio.Queue[Any] = asyncio.Queue()
    resumed = asyncio.Event()
    client = make_client()
    client.event(_on_resumed(resumed))
    tree = generate_tree(client, seen)
    async with running(client, fake):
        await tree.sync()
        fake.gateway.hold_resumes()
        fake.gateway.reconnect()  # op 7
        await fake.wait_for(lambda: fake.gateway.resumes)
        record = fake.slash_command("ping", channel=world.channel, user=world.user)
        fake.gateway.release_resumes()
        assert (await asyncio.wait_for(seen.get(), 5)).id == record.id
        await asyncio.wait_for(resumed.wait(), 5)

        fake.gateway.close(4000)  # a resumable close, without op 7
        await fake.wait_for(lambda: len(fake.gateway.resumes) == 2)
        await asyncio.wait_for(fake.wait_for(lambda: fake.gateway.dispatched("RESUMED")[1:]), 5)
    first, *resumes = fake.gateway.connections
    assert [c.path for c in resumes] == ["/gateway/resume", "/gateway/resume"]
    assert resumes[0].query == first.query
    resume = next(f.d for f in fake.gateway.received if f.op == 6)
    assert resume["session_id"] == first.session_id and resume["seq"] == 2
    replayed = [f for f in fake.gateway.frames if f.replayed]
    assert [f.t for f in replayed] == ["INTERACTION_CREATE"]
    assert fake.gateway.identifies == 1 and record.response is not None


async def test_product_code_can_force_resumes_through_the_configured_gateway(
    world: World,
) -> None:
    """READY's resume_gateway_url replaces DiscordWebSocket.gateway; resetting it in on_connect
    (dispatched for every READY) keeps resumes on the configured URL."""
    fake = world.fake
    configured = yarl.URL(fake.gateway_url)
    client = make_client()

    async def on_connect() -> None:
        assert client.ws is not None
        client.ws.gateway = configured

    client.event(on_connect)
    async with running(client, fake):
        assert fake.resume_gateway_url != fake.gateway_url
        fake.gateway.reconnect()
        await fake.wait_for(lambda: fake.gateway.dispatched("RESUMED"))
    assert [(c.path, c.kind) for c in fake.gateway.connections] == [
        ("/gateway", "identify"),
        ("/gateway", "resume"),
    ]


async def test_uploads_over_the_limit_are_refused(world: World) -> None:
    fake = world.fake
    big = b"\0" * (10 * 1024 * 1024 + 1)
    client = make_client()
    async with running(client, fake):
        channel = client.get_channel(world.channel.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send(file=discord.File(_bytes(big), "big.bin"))
    assert (caught.value.status, caught.value.code) == (413, 40005)
    assert fake.messages_in(world.channel) == []


def _on_resumed(event: asyncio.Event) -> Any:
    async def on_resumed() -> None:
        event.set()

    return on_resumed


def _bytes(data: bytes) -> Any:
    import io

    return io.BytesIO(data)
