"""Command menus per scope and language in the fake, set and read by a real PTB Bot."""

from __future__ import annotations

import pytest
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeChatAdministrators,
    BotCommandScopeChatMember,
)
from telegram.error import BadRequest

from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_kit import bot_on

GROUP = -1001234


def commands(*names: str) -> list[BotCommand]:
    return [BotCommand(name, f"about {name}") for name in names]


async def test_menus_are_kept_per_scope_and_language() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        await bot.set_my_commands(commands("start", "help"))
        await bot.set_my_commands(commands("start", "hilfe"), language_code="de")
        await bot.set_my_commands(commands("txt2img"), scope=BotCommandScopeAllPrivateChats())
        await bot.set_my_commands(commands("workflows"), scope=BotCommandScopeAllGroupChats())
        await bot.set_my_commands(
            commands("ban", "unban"), scope=BotCommandScopeChatAdministrators(GROUP)
        )
        await bot.set_my_commands(
            commands("stats"), scope=BotCommandScopeChatMember(GROUP, 1), language_code="de"
        )

        assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
        assert [c.command for c in await bot.get_my_commands(language_code="de")] == [
            "start",
            "hilfe",
        ]
        member = BotCommandScopeChatMember(GROUP, 1)
        assert await bot.get_my_commands(scope=member) == ()  # exactly this scope and language
        assert fake.menu() == ["start", "help"]
        assert fake.menu({"type": "chat_member", "chat_id": GROUP, "user_id": 1}, "de") == [
            "stats"
        ]

        # What a user sees: the first list set, in Telegram's documented order.
        assert fake.menu_for(5) == ["txt2img"]
        assert fake.menu_for(GROUP, 9) == ["workflows"]
        assert fake.menu_for(GROUP, 9, admin=True) == ["ban", "unban"]
        assert fake.menu_for(GROUP, 1, language_code="de-AT") == ["stats"]
        assert fake.menu_for(GROUP, 1, language_code="en") == ["workflows"]

        await bot.delete_my_commands(scope=BotCommandScopeAllPrivateChats())
        assert fake.menu_for(5, language_code="de") == ["start", "hilfe"]
        await bot.set_my_commands([], language_code="de")  # an empty list unsets it
        assert fake.menu_for(5, language_code="de") == ["start", "help"]


async def test_scopes_and_languages_are_checked() -> None:
    async with FakeTelegram() as fake, bot_on(fake) as bot:
        with pytest.raises(BadRequest):
            await bot.set_my_commands(
                commands("ban"), scope=BotCommandScopeChatAdministrators(5)
            )  # groups only
        with pytest.raises(BadRequest):
            await bot.set_my_commands(commands("start"), language_code="deu")
        with pytest.raises(BadRequest):
            await bot.set_my_commands(commands("start"), scope={"type": "everyone"})  # type: ignore[arg-type]
        assert "scope type" in str((fake.calls[-1].error or {})["description"])
        await bot.set_my_commands(commands("start"), scope=BotCommandScopeChat("5"))
        assert fake.menu({"type": "chat", "chat_id": 5}) == ["start"]
        assert fake.commands and len(fake.commands) == 1
