"""The adapter's small parts: where discord.py is pointed, which tokens are still usable, and
what the logs may show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import yarl

from adapters.discord.endpoints import Endpoints
from adapters.discord.library import DiscordWebSocket, Route, discord
from adapters.discord.log_redaction import MASK, mask
from adapters.discord.tokens import InteractionTokens
from tests.fakes.clock import FakeClock


def test_endpoints_are_set_only_when_configured_and_put_back() -> None:
    before = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    default = Endpoints()
    default.apply()
    assert before == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    default.restore()

    proxy = Endpoints("http://proxy.local:8080/api/v10/", "wss://gateway.proxy.local")
    proxy.apply()
    assert Route.BASE == "http://proxy.local:8080/api/v10"
    assert yarl.URL("wss://gateway.proxy.local") == DiscordWebSocket.DEFAULT_GATEWAY
    client: Any = SimpleNamespace(ws=SimpleNamespace(gateway=yarl.URL("wss://resume.discord.gg")))
    proxy.keep_gateway(client)
    assert client.ws.gateway == yarl.URL("wss://gateway.proxy.local")
    proxy.restore()
    assert before == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    assert proxy.api_origin == ("http", "proxy.local", 8080)


def test_a_token_is_usable_until_a_minute_before_it_expires() -> None:
    clock = FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    tokens = InteractionTokens(clock)
    first = discord.utils.time_snowflake(clock.now())
    interaction: Any = SimpleNamespace(id=first, filesize_limit=50 << 20, channel_id=7)
    tokens.remember(interaction, 99)
    assert tokens.usable(str(first)) is not None
    assert tokens.upload_limit("7") == 50 << 20 and tokens.upload_limit("8") == 10 << 20
    assert tokens.upload_limit("8", guild_limit=25 << 20) == 25 << 20
    clock.advance(timedelta(minutes=14).total_seconds() - 1)
    handle = tokens.usable(str(first))
    assert handle is not None and handle.message_id == 99
    clock.advance(1)
    assert tokens.usable(str(first)) is None
    handle.alive = False
    clock.advance(60)
    later = discord.utils.time_snowflake(clock.now())
    tokens.remember(SimpleNamespace(id=later, filesize_limit=0, channel_id=None), None)  # type: ignore[arg-type]
    assert tokens.usable(str(later)) is not None and tokens.usable(str(first)) is None


def test_tokens_are_masked_in_urls_and_events() -> None:
    token = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OnNlY3JldA"
    text = (
        f"PATCH https://discord.com/api/v10/webhooks/123/{token}/messages/@original "
        f"POST /interactions/456/{token}/callback {{'token': '{token}'}} Bot BOTTOKEN.x.y"
    )
    masked = mask(text, {"BOTTOKEN.x.y"})
    assert token not in masked and "BOTTOKEN" not in masked
    assert masked.count(MASK) == 4
