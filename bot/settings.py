"""Every setting in one place: `.env` and the environment, checked at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.locales import LANGUAGES, supported_language
from core.payments import CreditPack, parse_packs

DEFAULT_API_URL = "https://api.comfydeploy.com/api"
DEFAULT_DISCORD_API_URL = "https://discord.com/api/v10"
COMFY_CLOUD_URL = "https://cloud.comfy.org"
RUNCOMFY_API_URL = "https://api.runcomfy.net"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        validate_default=True,
    )

    comfydeploy_api_url: str = DEFAULT_API_URL
    comfydeploy_api_key: SecretStr | None = None
    comfydeploy_timeout_seconds: float = Field(default=30, gt=0)
    comfy_api_url: str | None = None
    comfy_api_key: SecretStr | None = None
    comfy_workflows_dir: Path = Path("workflows")
    comfy_usd_per_second: float | None = Field(default=None, ge=0)
    comfy_timeout_seconds: float = Field(default=30, gt=0)
    runcomfy_api_url: str = RUNCOMFY_API_URL
    runcomfy_api_token: SecretStr | None = None
    runcomfy_deployments: Annotated[tuple[str, ...], NoDecode] = ()
    runcomfy_usd_per_hour: Annotated[dict[str, float], NoDecode] = {}
    runcomfy_timeout_seconds: float = Field(default=30, gt=0)
    mongodb_uri: SecretStr | None = None
    mongodb_db: str = "comfybot"
    mongodb_timeout_seconds: float = Field(default=10, gt=0)
    data_dir: Path = Path("data")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    public_base_url: str | None = None
    webhook_secret: SecretStr | None = None
    catalog_file: Path = Path("workflows.catalog.yaml")
    routing_file: Path = Path("routing.yaml")
    catalog_refresh_seconds: float = Field(default=600, gt=0)
    poll_after_seconds: float = Field(default=60, gt=0)
    poll_interval_seconds: float = Field(default=5, gt=0)
    run_timeout_seconds: float = Field(default=3600, gt=0)
    admin_ids: Annotated[frozenset[str], NoDecode] = frozenset()
    max_prompt_chars: int = Field(default=2000, gt=0)
    max_input_image_mb: float = Field(default=20, gt=0)
    max_output_mb: float = Field(default=200, gt=0)
    output_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    output_retention_hours: float = Field(default=72, gt=0)
    max_concurrent_deliveries: int = Field(default=32, gt=0)
    delivery_retry_hours: float = Field(default=24, gt=0)
    shutdown_grace_seconds: float = Field(default=30, gt=0)
    delivery_lease_seconds: float = Field(default=60, gt=0)
    sweep_seconds: float = Field(default=10, gt=0)
    leader_lease_seconds: float = Field(default=15, ge=1)
    pending_locate_after_seconds: float = Field(default=60, gt=0)
    pending_give_up_seconds: float = Field(default=900, gt=0)
    queue_repair_after_seconds: float = Field(default=60, gt=0)
    default_language: str = "en"

    credits_enabled: bool = True
    credit_usd: float = Field(default=0.01, gt=0)
    price_multiplier: float = Field(default=1.0, gt=0)
    max_reserve_factor: float = Field(default=1.5, ge=1)
    charge_failed_runs: bool = False
    new_user_credits: float = Field(default=10, ge=0)
    credit_expiry_days: float = Field(default=0, ge=0)
    default_expected_seconds: float = Field(default=60, gt=0)
    credit_packs: Annotated[tuple[CreditPack, ...], NoDecode] = ()
    max_running_per_user: int = Field(default=2, gt=0)
    max_queued_per_user: int = Field(default=5, ge=0)
    max_running_per_deployment: int = Field(default=10, ge=0)
    rate_limit_per_user: int = Field(default=20, ge=0)
    allowed_users: Annotated[frozenset[str], NoDecode] = frozenset()
    allowed_chats: Annotated[frozenset[str], NoDecode] = frozenset()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_timeout_seconds: float = Field(default=20, gt=0)

    api_enabled: bool = True
    callback_allow_private: bool = False
    callback_timeout_seconds: float = Field(default=10, gt=0)
    api_max_body_kb: int = Field(default=64, gt=0)

    discord_bot_token: SecretStr | None = None
    discord_guild_ids: Annotated[tuple[int, ...], NoDecode] = ()
    discord_api_base_url: str = DEFAULT_DISCORD_API_URL
    discord_gateway_url: str | None = None

    @field_validator("admin_ids", "allowed_users", "allowed_chats", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("output_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("runcomfy_deployments", mode="before")
    @classmethod
    def _split_deployments(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("runcomfy_usd_per_hour", mode="before")
    @classmethod
    def _split_prices(cls, value: object) -> object:
        """`AMPERE_24=1.39,ADA_80_PLUS=5.99` (e.g. Pro plan prices)."""
        if not isinstance(value, str):
            return value
        prices: dict[str, str] = {}
        for part in (p.strip() for p in value.split(",")):
            tier, sep, price = part.partition("=")
            if part and (not sep or not tier.strip()):
                raise ValueError(f"'{part}' is not TIER=USD_PER_HOUR (e.g. AMPERE_24=1.75)")
            if part:
                prices[tier.strip().upper()] = price.strip()
        return prices

    @field_validator("runcomfy_usd_per_hour")
    @classmethod
    def _check_prices(cls, value: dict[str, float]) -> dict[str, float]:
        for tier, price in value.items():
            if price < 0:
                raise ValueError(f"the price of {tier} is negative")
        return value

    @field_validator("admin_ids", "allowed_users", "allowed_chats")
    @classmethod
    def _check_ids(cls, value: frozenset[str]) -> frozenset[str]:
        for item in value:
            platform, _, ident = item.partition(":")
            if not platform or not ident:
                raise ValueError(f"'{item}' is not platform:id (e.g. telegram:12345)")
        return value

    @field_validator("credit_packs", mode="before")
    @classmethod
    def _parse_packs(cls, value: object) -> object:
        return parse_packs(value) if isinstance(value, str) else value

    @field_validator("discord_guild_ids", mode="before")
    @classmethod
    def _split_guild_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            for part in parts:
                if not part.isdigit():
                    raise ValueError(
                        f"'{part}' is not a guild id (digits, e.g. 123456789012345678)"
                    )
            return tuple(dict.fromkeys(int(part) for part in parts))
        return value

    @field_validator("discord_gateway_url")
    @classmethod
    def _check_gateway_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss://")
        return value.rstrip("/")

    @field_validator("default_language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        language = supported_language(value)
        if language is None:
            raise ValueError(f"'{value}' has no translation; one of: {', '.join(LANGUAGES)}")
        return language

    @field_validator(
        "comfydeploy_api_url",
        "comfy_api_url",
        "runcomfy_api_url",
        "telegram_api_base_url",
        "public_base_url",
        "telegram_webhook_url",
        "discord_api_base_url",
    )
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None if value == "" else value
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raises SettingsError with one clear line per bad setting."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            name = str(problem["loc"][0]).upper() if problem["loc"] else "settings"
            lines.append(f"{name}: {problem['msg']}")
        raise SettingsError("\n".join(lines)) from None


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it."""
