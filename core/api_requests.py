"""What the HTTP run API keeps about each run it started: who asked, where the callback goes,
and, once the run's result is delivered to the API, that result as clients read it.

Each API request that starts a run gets an origin (`api:<random>`): the run is recorded under it
(`Run.origin`, unique), so the same request never makes two runs. An `Idempotency-Key` names an
origin for 24 hours (https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/):
the same key with the same body (equal JSON) gets that origin, and so the same run; the same key
with another body is a conflict.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from core.models import OutputKind
from core.workflow import Frozen

ORIGIN_PREFIX = "api:"


class ApiFile(Frozen):
    """One output of a delivered run."""

    kind: OutputKind
    filename: str
    mime: str
    size: int
    saved: str | None = None
    """Where the bot saved it, relative to its outputs folder; None when it was not fetched."""
    source_url: str | None = None
    """The backend's URL of it."""


class ApiResult(Frozen):
    files: tuple[ApiFile, ...] = ()
    texts: tuple[str, ...] = ()
    balance: int | None = None
    """The key's credits left after the run (hundredths), when it was paid in credits."""
    recorded_at: datetime


class ApiRequest(Frozen):
    origin: str
    key_id: str
    callback_url: str | None = None
    created_at: datetime
    result: ApiResult | None = None


@dataclass(frozen=True)
class IdempotencyClaim:
    """What an `Idempotency-Key` stands for: the origin of its run and the body it came with."""

    origin: str
    fingerprint: str


def new_origin() -> str:
    return f"{ORIGIN_PREFIX}{secrets.token_hex(12)}"


def fingerprint(body: Mapping[str, Any]) -> str:
    """Equal JSON, equal fingerprint: key order and spacing do not matter."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ApiRequestStore(Protocol):
    async def claim_key(
        self, scope: str, claim: IdempotencyClaim, now: datetime, until: datetime
    ) -> IdempotencyClaim:
        """The claim stored for `scope` (one key's `Idempotency-Key`): `claim` itself when the
        scope is new or its last claim expired, else the one stored before."""
        ...

    async def remember(self, request: ApiRequest) -> None:
        """Store the request under its origin, unless one is stored there already."""
        ...

    async def get(self, origin: str) -> ApiRequest | None: ...

    async def results(self, origins: list[str]) -> dict[str, ApiResult]:
        """The recorded results of those requests (those without one are left out)."""
        ...

    async def record_result(self, origin: str, result: ApiResult) -> None:
        """Keep the run's result (the first one recorded stays)."""
        ...
