"""KeyValueStore contract."""

from __future__ import annotations

import asyncio

from core.ports import KeyValueStore


async def test_get_set_overwrite(kv_store: KeyValueStore) -> None:
    assert await kv_store.get("secret") is None
    await kv_store.set("secret", "a")
    await kv_store.set("secret", "b")
    assert await kv_store.get("secret") == "b"


async def test_set_if_absent_keeps_the_first_value(kv_store: KeyValueStore) -> None:
    assert await kv_store.set_if_absent("k", "first") == "first"
    assert await kv_store.set_if_absent("k", "second") == "first"
    await kv_store.set("k", "third")
    assert await kv_store.set_if_absent("k", "fourth") == "third"


async def test_set_if_absent_race_has_one_winner(kv_store: KeyValueStore) -> None:
    values = [f"v{i}" for i in range(5)]
    results = await asyncio.gather(*(kv_store.set_if_absent("race", v) for v in values))
    assert len(set(results)) == 1
    assert results[0] in values
    assert await kv_store.get("race") == results[0]
