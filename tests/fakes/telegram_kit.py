"""Helpers for Telegram tests: a PTB Bot on the fake server, tiny images, an in-memory kv."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from PIL import Image
from telegram import Bot

from adapters.telegram.errors import use_timedelta_durations
from tests.fakes.telegram_api import FakeTelegram


@asynccontextmanager
async def bot_on(fake: FakeTelegram) -> AsyncIterator[Bot]:
    """A real python-telegram-bot Bot talking to the fake over HTTP."""
    use_timedelta_durations()
    bot = Bot(
        fake.token, base_url=f"{fake.base_url}/bot", base_file_url=f"{fake.base_url}/file/bot"
    )
    await bot.initialize()
    try:
        yield bot
    finally:
        await bot.shutdown()


def png_bytes(width: int = 8, height: int = 8, colour: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class MemoryKeyValueStore:
    """core.ports.KeyValueStore in a dict, counting writes."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.writes = 0

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.writes += 1
        self.values[key] = value

    async def set_if_absent(self, key: str, value: str) -> str:
        if key not in self.values:
            await self.set(key, value)
        return self.values[key]


def result_buttons(run_id: str, *extra: str) -> list[tuple[str, str]]:
    """The buttons under a result of a workflow with a seed (txt2img): reroll, same seed, the
    `extra` follow-ups (`upscale`, `vary`), recipe; as (label, callback data)."""
    labels = {"upscale": "⬆️ Upscale", "vary": "🔀 Vary"}
    kinds = [("🔁 Reroll", "reroll"), ("♻️ Same seed", "same")]
    kinds += [(labels[kind], kind) for kind in extra]
    kinds.append(("📜 Recipe", "recipe"))
    return [(label, f"{kind}:{run_id}") for label, kind in kinds]
