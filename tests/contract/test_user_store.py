"""UserStore contract: bans."""

from __future__ import annotations

from datetime import UTC, datetime

from core.ports import UserStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def test_ban_and_unban(user_store: UserStore) -> None:
    user = "telegram:42"
    assert not await user_store.is_banned(user)
    assert not await user_store.unban(user)
    assert await user_store.ban(user, "telegram:1", NOW)
    assert not await user_store.ban(user, "telegram:1", NOW)
    assert await user_store.is_banned(user)
    assert not await user_store.is_banned("discord:42")
    assert await user_store.unban(user)
    assert not await user_store.unban(user)
    assert not await user_store.is_banned(user)
    assert await user_store.ban(user, "discord:9", NOW)
    assert await user_store.is_banned(user)
