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


async def test_users_seen_are_found_by_username_in_any_case_or_by_id(
    user_store: UserStore,
) -> None:
    assert await user_store.find_user("telegram", "ann") is None
    await user_store.remember("telegram:42", "AnnDraws", "Ann", NOW)
    await user_store.remember("discord:42", "anndraws", "Ann", NOW)
    assert await user_store.find_user("telegram", "@anndraws") == "telegram:42"
    assert await user_store.find_user("telegram", "ANNDRAWS") == "telegram:42"
    assert await user_store.find_user("discord", "AnnDraws") == "discord:42"
    assert await user_store.find_user("telegram", "42") == "telegram:42"
    assert await user_store.find_user("telegram", "43") is None
    assert not await user_store.is_banned("telegram:42")  # seen is not banned


async def test_a_new_username_replaces_the_old_one_and_bans_survive(
    user_store: UserStore,
) -> None:
    await user_store.remember("telegram:42", "old_name", "Ann", NOW)
    assert await user_store.ban("telegram:42", "telegram:1", NOW)
    await user_store.remember("telegram:42", "new_name", "Ann", NOW)
    assert await user_store.find_user("telegram", "old_name") is None
    assert await user_store.find_user("telegram", "new_name") == "telegram:42"
    await user_store.remember("telegram:42", None, "Ann", NOW)
    assert await user_store.find_user("telegram", "new_name") is None
    assert await user_store.is_banned("telegram:42")
    assert not await user_store.ban("telegram:42", "telegram:1", NOW)
