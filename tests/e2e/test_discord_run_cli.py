"""`comfybot run` with both tokens set: Telegram and Discord served by one process."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.simulator import SimulatorServer
from tests.e2e.test_cli_commands import comfybot, environment
from tests.e2e.test_run_cli import comfybot_run
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_e2e import Lab
from tests.fakes.telegram_api import FakeTelegram


async def test_run_serves_discord_beside_telegram(mongo_uri: str, tmp_path: Path) -> None:
    async with FakeTelegram() as telegram, FakeDiscord() as fake:
        lab = Lab.build(fake)
        settings = {
            "discord_bot_token": fake.token,
            "discord_api_base_url": fake.api_base,
            "discord_gateway_url": fake.gateway_url,
        }
        async with comfybot_run(telegram, mongo_uri, tmp_path, **settings):
            await fake.wait_for(lambda: fake.commands.find("txt2img", None), within=60)
            await fake.wait_for(lambda: fake.gateway.live, within=60)  # the gateway lease's
            record = fake.slash_command(
                "txt2img",
                {"prompt": "a kite", "width": 32, "height": 32},
                channel=lab.channel,
                user=lab.ann,
            )
            await fake.wait_for_response(record, within=10)
            result = await fake.wait_for(
                lambda: [m for m in fake.messages_in(lab.channel) if m.filenames], within=60
            )
            assert result[0].mention_ids == [lab.ann.id] and "✅ Done" in result[0].content
            await telegram.wait_for_call("setMyCommands", within=30)
        assert fake.commands.overwrites == 1


async def test_a_token_discord_rejects_is_named_and_never_printed(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with SimulatorServer() as sim, FakeDiscord() as fake:
        bad = "MTIz.not-the-token.for-this-bot"
        env = {
            **environment(sim, mongo_uri, tmp_path),
            "DISCORD_BOT_TOKEN": bad,
            "DISCORD_API_BASE_URL": fake.api_base,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
            "HTTP_PORT": "0",
        }
        (code, out, err), (dcode, dout, derr) = await asyncio.gather(
            comfybot("run", env=env, cwd=tmp_path), comfybot("doctor", env=env, cwd=tmp_path)
        )
    assert code == 2 and "DISCORD_BOT_TOKEN: Discord rejected the token" in err
    assert dcode == 1 and "BAD discord: DISCORD_BOT_TOKEN: Discord rejected the token" in dout
    assert bad not in out + err + dout + derr
    assert "Traceback" not in err
