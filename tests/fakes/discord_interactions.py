"""Interactions: creating them for tests, answering their callback, and their webhook token.

https://discord.com/developers/docs/interactions/receiving-and-responding:
- `POST /interactions/{id}/{token}/callback` answers once (a second answer: 400, code 40060
  "Interaction has already been acknowledged."), within 3 seconds of the event (later: 404,
  code 10062 "Unknown interaction"), with a callback type valid for the interaction type
  (4, 5, 9 for commands; 4, 5, 6, 7, 9 for components; 8 for autocomplete). It returns 204, or
  200 with an interaction callback response when `with_response` is true.
- The token then works for the webhook endpoints (`@original`, followups) for 15 minutes;
  after that, or if no response came within 3 seconds, they answer 401, code 50027
  "Invalid Webhook Token".
- A followup sent while a deferred response is still loading edits that response instead.
Time is the fake clock, so tests move past the deadlines without waiting.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tests.fakes.discord_calls import Upload
from tests.fakes.discord_command_rules import check_choice
from tests.fakes.discord_errors import (
    DiscordError,
    FormErrors,
    already_acknowledged,
    field_error,
    invalid_webhook_token,
    length_error,
    unknown,
)
from tests.fakes.discord_messages import (
    PARSE_USERS,
    Dispatcher,
    MessageService,
    Origin,
)
from tests.fakes.discord_objects import Channel, JsonDict, MessageFlag, User
from tests.fakes.discord_state import DiscordWorld, StoredMessage

RESPONSE_DEADLINE = timedelta(seconds=3)
TOKEN_LIFETIME = timedelta(minutes=15)
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
PONG, CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 1, 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
VALID_CALLBACKS = {
    APPLICATION_COMMAND: (CHANNEL_MESSAGE, DEFERRED_MESSAGE, MODAL),
    MESSAGE_COMPONENT: (CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL),
    AUTOCOMPLETE: (AUTOCOMPLETE_RESULT,),
    MODAL_SUBMIT: (CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE),
}
EPHEMERAL = MessageFlag.EPHEMERAL


@dataclass
class Callback:
    """One answer the client sent to the callback endpoint, accepted or not."""

    type: int | None
    data: JsonDict | None
    files: list[Upload]
    status: int
    clock_seconds: float
    """Fake-clock seconds between the interaction's creation and this callback."""
    real_seconds: float
    """Real seconds between sending INTERACTION_CREATE and this callback arriving."""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def ephemeral(self) -> bool:
        return bool((self.data or {}).get("flags", 0) & EPHEMERAL)


@dataclass
class InteractionRecord:
    id: int
    token: str
    type: int
    payload: JsonDict
    channel: Channel
    user: User
    created_at: datetime
    file_limit: int
    command_name: str | None = None
    command_type: int = 1
    component_message_id: int | None = None
    focused_type: int | None = None
    sent_at: float | None = None
    delivered: bool = False
    """Whether a gateway session got the INTERACTION_CREATE (live, or buffered for a resume)."""
    callbacks: list[Callback] = field(default_factory=list)
    original_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)

    @property
    def response(self) -> Callback | None:
        """The accepted callback, if any."""
        return next((c for c in self.callbacks if c.ok), None)

    @property
    def choices(self) -> list[JsonDict]:
        """Autocomplete choices the client answered with."""
        response = self.response
        return list((response.data or {}).get("choices", [])) if response else []


class Interactions:
    def __init__(self, world: DiscordWorld, gateway: Dispatcher, messages: MessageService) -> None:
        self.world = world
        self.gateway = gateway
        self.messages = messages
        self.records: dict[int, InteractionRecord] = {}

    def new_record(
        self, kind: int, channel: Channel, user: User, file_limit: int
    ) -> InteractionRecord:
        record = InteractionRecord(
            self.world.snowflakes.next(),
            f"aW50ZXJhY3Rpb246{secrets.token_urlsafe(96)}",
            kind,
            {},
            channel,
            user,
            self.world.clock.now(),
            file_limit,
        )
        self.records[record.id] = record
        return record

    def send(self, record: InteractionRecord) -> InteractionRecord:
        record.sent_at = time.perf_counter()
        record.delivered = self.gateway.dispatch("INTERACTION_CREATE", record.payload, None) > 0
        return record

    # -- the callback ----------------------------------------------------------------------

    def callback(
        self, interaction_id: int, token: str, body: Any, files: list[Upload], with_response: bool
    ) -> tuple[int, JsonDict | None]:
        record = self.records.get(interaction_id)
        if record is None or not secrets.compare_digest(record.token, token):
            raise unknown("interaction", 10062)
        now = self.world.clock.now()
        entry = Callback(
            body.get("type") if isinstance(body, dict) else None,
            body.get("data") if isinstance(body, dict) else None,
            files,
            0,
            (now - record.created_at).total_seconds(),
            time.perf_counter() - (record.sent_at or time.perf_counter()),
        )
        record.callbacks.append(entry)
        try:
            status, answer = self._answer(record, body, files, now)
        except DiscordError as error:
            entry.status = error.status
            raise
        entry.status = status if with_response else 204
        self.world.changes.notify()
        return (200, answer) if with_response else (204, None)

    def _answer(
        self, record: InteractionRecord, body: Any, files: list[Upload], now: datetime
    ) -> tuple[int, JsonDict]:
        if any(c.ok for c in record.callbacks):
            raise already_acknowledged()
        if now - record.created_at > RESPONSE_DEADLINE:
            raise unknown("interaction", 10062)
        if not isinstance(body, dict) or not isinstance(body.get("type"), int):
            raise field_error(["type"], "BASE_TYPE_REQUIRED", "This field is required")
        kind = body["type"]
        if kind not in VALID_CALLBACKS.get(record.type, ()):
            raise field_error(
                ["type"],
                "INTERACTION_RESPONSE_TYPE_INVALID",
                "Interaction callback type is not valid for this interaction type",
            )
        data: JsonDict = body["data"] if isinstance(body.get("data"), dict) else {}
        flags = int(data.get("flags") or 0)
        interaction: JsonDict = {"id": str(record.id), "type": record.type}
        resource: JsonDict = {"type": kind}
        if kind == CHANNEL_MESSAGE:
            message = self.messages.create(record.channel, data, files, self._origin(record))
            record.original_id = message.id
            resource["message"] = message.data
            interaction.update(
                response_message_id=str(message.id),
                response_message_loading=False,
                response_message_ephemeral=message.ephemeral,
            )
        elif kind == DEFERRED_MESSAGE:
            ephemeral = bool(flags & EPHEMERAL)
            message = self.messages.create_loading(record.channel, self._origin(record), ephemeral)
            record.original_id = message.id
            interaction.update(
                response_message_id=str(message.id),
                response_message_loading=True,
                response_message_ephemeral=ephemeral,
            )
        elif kind in (DEFERRED_UPDATE, UPDATE_MESSAGE):
            assert record.component_message_id is not None
            target = self.world.message(record.channel.id, record.component_message_id)
            record.original_id = target.id
            if kind == UPDATE_MESSAGE:
                self.messages.edit(
                    target, data, files, file_limit=record.file_limit, default_parse=PARSE_USERS
                )
                resource["message"] = target.data
            interaction.update(response_message_id=str(target.id))
        elif kind == AUTOCOMPLETE_RESULT:
            self._check_autocomplete(record, data)
        elif kind == MODAL:
            self._check_modal(data)
        return 200, {"interaction": interaction, "resource": resource}

    def _check_autocomplete(self, record: InteractionRecord, data: JsonDict) -> None:
        choices = data.get("choices")
        errors = FormErrors()
        if not isinstance(choices, list):
            errors.add(["data", "choices"], "BASE_TYPE_REQUIRED", "This field is required")
        else:
            if len(choices) > 25:
                errors.add(["data", "choices"], *length_error(0, 25))
            for index, choice in enumerate(choices):
                check_choice(choice, ["data", "choices", index], record.focused_type or 3, errors)
        errors.raise_if_any()

    @staticmethod
    def _check_modal(data: JsonDict) -> None:
        errors = FormErrors()
        custom_id = data.get("custom_id")
        if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= 100:
            errors.add(["data", "custom_id"], *length_error(1, 100))
        title = data.get("title")
        if not isinstance(title, str) or not 1 <= len(title) <= 45:
            errors.add(["data", "title"], *length_error(1, 45))
        components = data.get("components")
        if not isinstance(components, list) or not 1 <= len(components) <= 5:
            errors.add(["data", "components"], *length_error(1, 5))
        errors.raise_if_any()

    # -- the webhook token -----------------------------------------------------------------

    def by_token(self, application_id: int, token: str) -> InteractionRecord:
        """The interaction whose token this is, if the token still works (else 401/50027)."""
        if application_id != self.world.application_id:
            raise unknown("Webhook", 10015)
        record = next((r for r in self.records.values() if r.token == token), None)
        if record is None:
            raise invalid_webhook_token()
        age = self.world.clock.now() - record.created_at
        if age > TOKEN_LIFETIME:
            raise invalid_webhook_token()
        if record.response is None and age > RESPONSE_DEADLINE:
            raise invalid_webhook_token()
        return record

    def original(self, record: InteractionRecord) -> StoredMessage:
        if record.original_id is None:
            raise unknown("Message", 10008)
        return self.world.message(record.channel.id, record.original_id)

    def owned(self, record: InteractionRecord, message_id: int) -> StoredMessage:
        """A message this token may touch: its original response or one of its followups."""
        if message_id != record.original_id and message_id not in record.followup_ids:
            raise unknown("Message", 10008)
        return self.world.message(record.channel.id, message_id)

    def edit(
        self, record: InteractionRecord, message: StoredMessage, body: Any, files: list[Upload]
    ) -> StoredMessage:
        return self.messages.edit(
            message, body, files, file_limit=record.file_limit, default_parse=PARSE_USERS
        )

    def followup(self, record: InteractionRecord, body: Any, files: list[Upload]) -> StoredMessage:
        if record.response is None:
            raise unknown("Webhook", 10015)
        if record.original_id is not None:
            original = self.world.message(record.channel.id, record.original_id)
            if original.loading:
                return self.edit(record, original, body, files)
        origin = self._origin(record)
        metadata = dict(origin.interaction_metadata or {})
        if record.original_id is not None:
            metadata["original_response_message_id"] = str(record.original_id)
        origin.interaction_metadata = metadata
        message = self.messages.create(record.channel, body, files, origin)
        record.followup_ids.append(message.id)
        return message

    def _origin(self, record: InteractionRecord) -> Origin:
        metadata: JsonDict = {
            "id": str(record.id),
            "type": record.type,
            "user": record.user.to_json(),
            "authorizing_integration_owners": record.payload.get(
                "authorizing_integration_owners", {}
            ),
        }
        reference = None
        message_type = 20 if record.command_type == 1 else 23
        if record.type == MESSAGE_COMPONENT and record.component_message_id is not None:
            metadata["interacted_message_id"] = str(record.component_message_id)
            message_type = 19
            reference = {
                "type": 0,
                "channel_id": str(record.channel.id),
                "message_id": str(record.component_message_id),
            }
            if record.channel.guild_id is not None:
                reference["guild_id"] = str(record.channel.guild_id)
        elif record.command_name is not None:
            metadata["name"] = record.command_name
            metadata["command_type"] = record.command_type
        return Origin(
            author=self.world.bot,
            default_parse=PARSE_USERS,
            message_type=message_type,
            allow_ephemeral=True,
            webhook_id=self.world.application_id,
            interaction_metadata=metadata,
            interaction_id=record.id,
            reference=reference,
            file_limit=record.file_limit,
        )
