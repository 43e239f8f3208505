"""The API's settings, as the composition root hands them over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from aiohttp import web


@dataclass(frozen=True)
class ApiConfig:
    outputs_dir: Path
    """Where delivery saves runs' outputs (`DATA_DIR/outputs`), served from here."""
    public_base_url: str | None = None
    """How clients reach the bot (PUBLIC_BASE_URL); else the address they used."""
    allow_private_callbacks: bool = False
    callback_timeout_s: float = 10.0
    max_body_bytes: int = 64_000
    max_upload_bytes: int = 20_000_000
    max_prompt_chars: int = 2000
    idempotency_ttl: timedelta = timedelta(hours=24)
    upload_ttl: timedelta = timedelta(hours=24)
    events_recheck_s: float = 2.0
    """How often an event stream looks at its run without being woken (changes made by
    another process wake nobody here)."""
    heartbeat_s: float = 15.0
    default_page: int = 20
    max_page: int = 100

    def base(self, request: web.Request) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        return f"{request.scheme}://{request.host}"
