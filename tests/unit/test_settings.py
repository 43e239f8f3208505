"""Settings from the environment: defaults, errors naming the setting, secrets kept secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.settings import DEFAULT_API_URL, Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting from the real environment, and no `.env` in the working directory."""
    fields = set(Settings.model_fields)
    for key in list(os.environ):
        if key.lower() in fields:
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults_load_with_a_clean_environment() -> None:
    settings = load_settings()

    assert settings.comfydeploy_api_url == DEFAULT_API_URL
    assert settings.comfydeploy_api_key is None
    assert settings.mongodb_uri is None
    assert settings.mongodb_db == "comfybot"
    assert settings.http_host == "127.0.0.1"
    assert settings.http_port == 8080
    assert settings.public_base_url is None
    assert settings.admin_ids == frozenset()
    assert settings.max_prompt_chars == 2000
    assert settings.log_level == "INFO"
    assert settings.log_format == "text"
    assert settings.telegram_bot_token is None
    assert settings.data_dir == Path("data")


def test_environment_values_are_read_and_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PORT", "9090")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://bot.example.com/")
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.setenv("CATALOG_REFRESH_SECONDS", "30.5")

    settings = load_settings()

    assert settings.http_port == 9090
    assert settings.public_base_url == "https://bot.example.com"
    assert settings.log_format == "json"
    assert settings.catalog_refresh_seconds == 30.5


def test_a_dotenv_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("HTTP_PORT=7000\nMONGODB_DB=from_dotenv\n", encoding="utf-8")
    settings = load_settings()
    assert (settings.http_port, settings.mongodb_db) == (7000, "from_dotenv")


def test_empty_public_url_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "")
    assert load_settings().public_base_url is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HTTP_PORT", "abc"),
        ("HTTP_PORT", "70000"),
        ("ADMIN_IDS", "12345"),
        ("PUBLIC_BASE_URL", "ftp://x"),
        ("COMFYDEPLOY_API_URL", "api.comfydeploy.com"),
        ("LOG_LEVEL", "LOUD"),
        ("LOG_FORMAT", "xml"),
        ("MAX_PROMPT_CHARS", "0"),
        ("POLL_INTERVAL_SECONDS", "-1"),
        ("DISCORD_GUILD_IDS", "123,lab"),
        ("DISCORD_API_BASE_URL", "discord.com/api/v10"),
        ("DISCORD_GATEWAY_URL", "https://gateway.example"),
        ("DEFAULT_LANGUAGE", "tlh"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError) as caught:
        load_settings()

    lines = str(caught.value).splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{name}: ")


def test_default_language_is_one_with_a_translation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_LANGUAGE", "es-MX")
    assert load_settings().default_language == "es"
    monkeypatch.setenv("DEFAULT_LANGUAGE", "de")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert (
        str(caught.value)
        == "DEFAULT_LANGUAGE: Value error, 'de' has no translation; one of: en, ru, es"
    )


def test_admin_id_without_platform_says_what_is_expected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "telegram:1, 12345")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "ADMIN_IDS" in str(caught.value)
    assert "'12345' is not platform:id" in str(caught.value)


def test_every_bad_setting_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PORT", "abc")
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    monkeypatch.setenv("PUBLIC_BASE_URL", "ftp://x")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    names = sorted(line.split(":", 1)[0] for line in str(caught.value).splitlines())
    assert names == ["HTTP_PORT", "LOG_LEVEL", "PUBLIC_BASE_URL"]


def test_discord_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().discord_api_base_url == "https://discord.com/api/v10"
    assert load_settings().discord_gateway_url is None
    monkeypatch.setenv("DISCORD_GUILD_IDS", " 123456789012345678, 42,42 ")
    monkeypatch.setenv("DISCORD_API_BASE_URL", "http://proxy.local:8080/api/v10/")
    monkeypatch.setenv("DISCORD_GATEWAY_URL", "wss://gateway-proxy.local/")
    settings = load_settings()
    assert settings.discord_guild_ids == (123456789012345678, 42)
    assert settings.discord_api_base_url == "http://proxy.local:8080/api/v10"
    assert settings.discord_gateway_url == "wss://gateway-proxy.local"


def test_admin_ids_comma_list_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", " telegram:12345, discord:987654321 ,,telegram:12345")
    assert load_settings().admin_ids == frozenset({"telegram:12345", "discord:987654321"})


def test_allow_lists_are_comma_lists_of_platform_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (load_settings().allowed_users, load_settings().allowed_chats) == (set(), set())
    monkeypatch.setenv("ALLOWED_USERS", "telegram:12345 , discord:987654321,,telegram:12345")
    monkeypatch.setenv("ALLOWED_CHATS", "telegram:-1001234567890, discord:555")
    settings = load_settings()
    assert settings.allowed_users == frozenset({"telegram:12345", "discord:987654321"})
    assert settings.allowed_chats == frozenset({"telegram:-1001234567890", "discord:555"})
    monkeypatch.setenv("ALLOWED_CHATS", "telegram:-100123, 555")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("ALLOWED_CHATS: ")
    assert "'555' is not platform:id" in str(caught.value)


def test_secrets_are_secret_strings_kept_out_of_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "COMFYDEPLOY_API_KEY": "cd-key-0123456789abcdef",
        "TELEGRAM_BOT_TOKEN": "123456:AAE-telegram-token-value",
        "MONGODB_URI": "mongodb://user:hunter2pass@db.example:27017",
        "WEBHOOK_SECRET": "webhook-secret-value-xyz",
        "TELEGRAM_WEBHOOK_SECRET": "tg-webhook-secret-abc",
        "DISCORD_BOT_TOKEN": "MTIz.discord-bot-token.value",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)

    settings = load_settings()

    for name, value in values.items():
        secret = getattr(settings, name.lower())
        assert isinstance(secret, SecretStr)
        assert secret.get_secret_value() == value
        assert value not in repr(settings)
        assert value not in str(settings)
        assert value not in repr(secret)


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PORT", "9090")
    assert load_settings(http_port=1234).http_port == 1234


def test_env_example_lists_every_setting_with_a_comment() -> None:
    from pathlib import Path

    from bot.settings import Settings

    lines = (Path(__file__).resolve().parents[2] / ".env.example").read_text().splitlines()
    listed = {
        line.split("=", 1)[0]: index
        for index, line in enumerate(lines)
        if "=" in line and not line.startswith("#")
    }
    assert set(listed) == {name.upper() for name in Settings.model_fields}
    for name, index in listed.items():
        assert lines[index - 1].startswith("#"), f"{name} has no comment above it"
