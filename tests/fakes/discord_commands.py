"""The application's registered commands, global and per guild, and a count of every write.

Endpoints: https://discord.com/developers/docs/interactions/application-commands#endpoints.
A bulk overwrite keeps the ids of commands matched by (type, name); every command that did not
exist counts as a create, and Discord allows 200 creates a day (per guild, and globally):
the 201st answers 429 with code 30034. Tests read `creates` and `writes` to assert that a
start-up did (or did not) sync.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.fakes.clock import FakeClock
from tests.fakes.discord_command_rules import CHAT_INPUT, CommandRules
from tests.fakes.discord_errors import DiscordError, unknown
from tests.fakes.discord_objects import JsonDict, Snowflakes

DAILY_CREATES = 200
Scope = int | None
"""A guild id, or None for global commands."""


@dataclass
class CommandWrite:
    """One create, overwrite, edit or delete the client made."""

    kind: str
    """"overwrite", "create", "edit" or "delete"."""
    scope: Scope
    names: list[str]
    created: int
    at: datetime


class CommandStore:
    def __init__(self, application_id: int, snowflakes: Snowflakes, clock: FakeClock) -> None:
        self.application_id = application_id
        self._snowflakes = snowflakes
        self._clock = clock
        self._scopes: dict[Scope, dict[int, JsonDict]] = {}
        self.writes: list[CommandWrite] = []
        self._create_times: dict[Scope, list[datetime]] = {}

    # -- what tests read -------------------------------------------------------------------

    @property
    def creates(self) -> int:
        """Commands created (by POST or by an overwrite naming a new command), all scopes."""
        return sum(w.created for w in self.writes)

    @property
    def overwrites(self) -> int:
        return sum(1 for w in self.writes if w.kind == "overwrite")

    def all(self, scope: Scope) -> list[JsonDict]:
        return [copy.deepcopy(c) for c in self._scopes.get(scope, {}).values()]

    def find(self, name: str, scope: Scope, kind: int = CHAT_INPUT) -> JsonDict | None:
        for command in self._scopes.get(scope, {}).values():
            if command["name"] == name and command["type"] == kind:
                return command
        return None

    def get(self, scope: Scope, command_id: int) -> JsonDict:
        command = self._scopes.get(scope, {}).get(command_id)
        if command is None:
            raise unknown("application command", 10063)
        return copy.deepcopy(command)

    # -- endpoints -------------------------------------------------------------------------

    def overwrite(self, scope: Scope, payload: Any) -> list[JsonDict]:
        rules = CommandRules()
        rules.check_list(payload)
        rules.errors.raise_if_any()
        existing = self._scopes.get(scope, {})
        by_key = {(c["type"], c["name"]): c for c in existing.values()}
        new: dict[int, JsonDict] = {}
        created = 0
        for item in payload:
            kind = int(item.get("type", CHAT_INPUT))
            old = by_key.get((kind, item["name"]))
            if old is None:
                created += 1
            command = self._stored(scope, item, old)
            new[int(command["id"])] = command
        self._count_creates(scope, created)
        self._scopes[scope] = new
        self._record("overwrite", scope, [c["name"] for c in new.values()], created)
        return self.all(scope)

    def create(self, scope: Scope, payload: Any) -> tuple[JsonDict, bool]:
        """Create (201) or, for an existing (type, name), overwrite it (200)."""
        rules = CommandRules()
        rules.check_command(payload, [])
        rules.errors.raise_if_any()
        kind = int(payload.get("type", CHAT_INPUT))
        old = self.find(payload["name"], scope, kind)
        if old is None:
            self._count_creates(scope, 1)
        command = self._stored(scope, payload, old)
        self._scopes.setdefault(scope, {})[int(command["id"])] = command
        self._record("create", scope, [command["name"]], 0 if old else 1)
        return copy.deepcopy(command), old is None

    def edit(self, scope: Scope, command_id: int, patch: Any) -> JsonDict:
        current = self.get(scope, command_id)
        if not isinstance(patch, dict):
            patch = {}
        merged = {**current, **patch}
        for key in ("id", "application_id", "version", "guild_id"):
            merged.pop(key, None)
        rules = CommandRules()
        rules.check_command(merged, [])
        rules.errors.raise_if_any()
        clash = self.find(merged["name"], scope, int(merged.get("type", CHAT_INPUT)))
        if clash is not None and int(clash["id"]) != command_id:
            raise DiscordError(400, 40041, "An application command with that name already exists")
        command = self._stored(scope, merged, current)
        self._scopes[scope][command_id] = command
        self._record("edit", scope, [command["name"]], 0)
        return copy.deepcopy(command)

    def delete(self, scope: Scope, command_id: int) -> None:
        command = self.get(scope, command_id)
        del self._scopes[scope][command_id]
        self._record("delete", scope, [command["name"]], 0)

    # -- internals -------------------------------------------------------------------------

    def _stored(self, scope: Scope, payload: JsonDict, old: JsonDict | None) -> JsonDict:
        kind = int(payload.get("type", CHAT_INPUT))
        command: JsonDict = {
            "id": old["id"] if old else str(self._snowflakes.next()),
            "application_id": str(self.application_id),
            "version": str(self._snowflakes.next()),
            "default_member_permissions": payload.get("default_member_permissions"),
            "type": kind,
            "name": payload["name"],
            "name_localizations": payload.get("name_localizations"),
            "description": payload.get("description") or "",
            "description_localizations": payload.get("description_localizations"),
            "nsfw": bool(payload.get("nsfw", False)),
        }
        if scope is None:
            command["dm_permission"] = payload.get("dm_permission", True)
            command["contexts"] = payload.get("contexts")
            command["integration_types"] = payload.get("integration_types") or [0]
        else:
            command["guild_id"] = str(scope)
        options = _without_nulls(payload.get("options") or [])
        if options:
            command["options"] = options
        return command

    def _count_creates(self, scope: Scope, count: int) -> None:
        if not count:
            return
        now = self._clock.now()
        times = [t for t in self._create_times.get(scope, []) if now - t < timedelta(days=1)]
        if len(times) + count > DAILY_CREATES:
            retry_after = (times[0] + timedelta(days=1) - now).total_seconds()
            raise DiscordError(
                429,
                30034,
                "Max number of daily application command creates has been reached (200)",
                headers={"Retry-After": str(int(retry_after) + 1)},
                extra={"retry_after": round(retry_after, 3), "global": False},
            )
        self._create_times[scope] = times + [now] * count

    def _record(self, kind: str, scope: Scope, names: list[str], created: int) -> None:
        self.writes.append(CommandWrite(kind, scope, names, created, self._clock.now()))


def _without_nulls(value: Any) -> Any:
    """Options as Discord stores them: keys sent as null are dropped."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
