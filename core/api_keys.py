"""API keys for the HTTP run API: each key is a user of its own (platform `api`, the key's name as
its user id), so credits, caps, rate limits and bans apply to it as to anyone in a chat.

A key is `cbk_<id>_<secret>`: the id finds it, the secret (32 random bytes) proves it. Only the
SHA-256 of the whole key is stored: with that much entropy a slow password hash adds nothing
(https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html is about
low-entropy passwords). Each key also gets a signing secret for its callbacks, which the bot must
keep to sign with (Stripe-style, https://docs.stripe.com/webhooks#verify-manually). Both are
shown once, when the key is created.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.models import ChatRef
from core.workflow import Frozen

API_PLATFORM = "api"
TOKEN_PREFIX = "cbk"
SIGNING_PREFIX = "whsec"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
"""Key names: what `ADMIN_IDS`, `/grant` and `/ban` call the key's user (`api:<name>`)."""
_TOKEN = re.compile(rf"^{TOKEN_PREFIX}_([0-9a-f]{{12}})_[A-Za-z0-9_-]{{43}}$")


class ApiKey(Frozen):
    id: str
    """Public: it names the key in logs and finds it; it proves nothing."""
    name: str
    token_hash: str
    """SHA-256 (hex) of the whole key."""
    signing_secret: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def chat(self) -> ChatRef:
        """Where the key's runs come from and go back to: the key itself."""
        return ChatRef(
            platform=API_PLATFORM, chat_id=self.name, user_id=self.name, user_name=self.name
        )

    @property
    def user_key(self) -> str:
        return self.chat.user_key

    def proves(self, token: str) -> bool:
        return hmac.compare_digest(hash_token(token), self.token_hash)


@dataclass(frozen=True)
class IssuedKey:
    """A new key with what is shown once: the key itself."""

    key: ApiKey
    token: str


def issue_key(name: str, now: datetime) -> IssuedKey:
    key_id = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        id=key_id,
        name=name,
        token_hash=hash_token(token),
        signing_secret=f"{SIGNING_PREFIX}_{secrets.token_urlsafe(32)}",
        created_at=now,
    )
    return IssuedKey(key, token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(token: str) -> str | None:
    """The key id a well-formed key carries; None for anything else."""
    match = _TOKEN.match(token)
    return match.group(1) if match else None


def valid_name(name: str) -> bool:
    return NAME_PATTERN.match(name) is not None


class ApiKeyStore(Protocol):
    async def add(self, key: ApiKey) -> bool:
        """Store a new key; False when a key of that name is active already."""
        ...

    async def get(self, key_id: str) -> ApiKey | None: ...

    async def revoke(self, name: str, now: datetime) -> ApiKey | None:
        """Revoke the active key of that name; None when there is none."""
        ...

    async def all(self) -> list[ApiKey]:
        """Every key, active and revoked, oldest first."""
        ...
