"""Who is calling: `Authorization: Bearer <key>` (https://www.rfc-editor.org/rfc/rfc6750),
checked against the stored hash. A key found is remembered for a few seconds, so a revoked key
stops working within `CACHE_S` on every process, and a banned key's user is refused."""

from __future__ import annotations

from cachetools import TTLCache

from adapters.api.errors import ApiError
from core.api_keys import ApiKey, ApiKeyStore, hash_token, token_id
from core.ports import Clock, UserStore

CACHE_S = 3.0


def unauthorized() -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        "A valid API key is required: Authorization: Bearer <key>.",
        headers={"WWW-Authenticate": 'Bearer realm="comfybot"'},
    )


class KeyRing:
    def __init__(self, keys: ApiKeyStore, users: UserStore, clock: Clock) -> None:
        self._keys = keys
        self._users = users
        self._known: TTLCache[str, tuple[ApiKey, bool]] = TTLCache(
            maxsize=4096, ttl=CACHE_S, timer=lambda: clock.now().timestamp()
        )

    async def caller(self, authorization: str | None) -> ApiKey:
        """The key the request is made with; ApiError 401 (no valid key) or 403 (banned)."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized()
        digest = hash_token(token)
        known = self._known.get(digest)
        if known is None:
            known = await self._look_up(token)
            self._known[digest] = known
        key, banned = known
        if banned:
            raise ApiError(403, "banned", "This API key may not use the bot.")
        return key

    async def _look_up(self, token: str) -> tuple[ApiKey, bool]:
        key_id = token_id(token)
        key = await self._keys.get(key_id) if key_id else None
        if key is None or key.revoked_at is not None or not key.proves(token):
            raise unauthorized()
        return key, await self._users.is_banned(key.user_key)
