"""Discord's HTTP errors: the status, the JSON `code` and `message`, and form `errors` trees.

Shapes follow https://discord.com/developers/docs/topics/opcodes-and-status-codes#json and
https://discord.com/developers/docs/reference#error-messages:
`{"code": 50035, "message": "Invalid Form Body", "errors": {"0": {"name": {"_errors": [...]}}}}`.
"""

from __future__ import annotations

from collections.abc import Sequence

from tests.fakes.discord_objects import JsonDict


class DiscordError(Exception):
    """Raised by handlers; the server answers it as Discord would."""

    def __init__(
        self,
        status: int,
        code: int | None,
        message: str,
        errors: JsonDict | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: JsonDict | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        # `code` is None for bodies without one, such as the 429 body.
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    def to_json(self) -> JsonDict:
        body: JsonDict = {"message": self.message}
        if self.code is not None:
            body["code"] = self.code
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class FormErrors:
    """Collects field errors at paths such as ("0", "options", "1", "name")."""

    def __init__(self) -> None:
        self.tree: JsonDict = {}

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def __bool__(self) -> bool:
        return bool(self.tree)

    def raise_if_any(self) -> None:
        if self.tree:
            raise invalid_form_body(self.tree)


def invalid_form_body(errors: JsonDict) -> DiscordError:
    return DiscordError(400, 50035, "Invalid Form Body", errors)


def field_error(path: Sequence[str | int], code: str, message: str) -> DiscordError:
    errors = FormErrors()
    errors.add(path, code, message)
    return invalid_form_body(errors.tree)


def unauthorized() -> DiscordError:
    return DiscordError(401, 0, "401: Unauthorized")


def not_found() -> DiscordError:
    return DiscordError(404, 0, "404: Not Found")


def unknown(what: str, code: int) -> DiscordError:
    """Unknown channel (10003), guild (10004), member (10007), message (10008), user (10013),
    webhook (10015), interaction (10062), application command (10063)."""
    return DiscordError(404, code, f"Unknown {what}")


def invalid_webhook_token() -> DiscordError:
    return DiscordError(401, 50027, "Invalid Webhook Token")


def already_acknowledged() -> DiscordError:
    return DiscordError(400, 40060, "Interaction has already been acknowledged.")


def missing_access() -> DiscordError:
    return DiscordError(403, 50001, "Missing Access")


def missing_permissions() -> DiscordError:
    return DiscordError(403, 50013, "Missing Permissions")


def empty_message() -> DiscordError:
    return DiscordError(400, 50006, "Cannot send an empty message")


def too_large() -> DiscordError:
    return DiscordError(413, 40005, "Request entity too large")


def length_error(low: int, high: int) -> tuple[str, str]:
    """The (code, message) pair Discord uses for a string or list outside its bounds."""
    if low <= 0:
        return "BASE_TYPE_MAX_LENGTH", f"Must be {high} or fewer in length."
    return "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length."
