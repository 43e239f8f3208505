"""Wire details of the fake RunComfy Serverless API: route names, timestamps, error bodies.

Error bodies follow https://docs.runcomfy.com/serverless/error-codes: a JSON payload with a
numeric `error_code` (401001, 403003, 404001, 422001, 500001, ... — HTTP status x 1000 + n), a
human-readable `error_message` and, for validation errors, a `detail` array. Deployment gating
errors (10001 InsufficientFunds, 10002 DisabledDeployment, 10003 DeletedDeployment) arrive with
HTTP 200 and a top-level `error_code`; RunComfy's own MCP client checks every 2xx body for one
(https://github.com/runcomfy-com/runcomfy-mcp, `runcomfy_client.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from aiohttp import web

JsonDict = dict[str, Any]

UNAUTHORIZED = 401001
FORBIDDEN = 403003
NOT_FOUND = 404001
VALIDATION_ERROR = 422001
INTERNAL_ERROR = 500001
INSUFFICIENT_FUNDS = 10001
DISABLED_DEPLOYMENT = 10002
DELETED_DEPLOYMENT = 10003


class Route(StrEnum):
    """Names of the fake's routes; the `/prod/v1` and `/prod/v2` twins share one name."""

    INFERENCE = "inference"
    STATUS = "status"
    RESULT = "result"
    CANCEL = "cancel"
    DEPLOYMENTS = "deployments"
    DEPLOYMENT = "deployment"
    OBJECT_INFO = "object_info"
    OUTPUT_FILE = "output_file"


PUBLIC_ROUTES = frozenset({Route.OBJECT_INFO, Route.OUTPUT_FILE})
"""Served without a token, like RunComfy's hosted output URLs."""


def iso(moment: datetime | None) -> str | None:
    """`2026-11-23T12:00:03.250000+00:00`: the offset form third-party clients parse
    (https://github.com/iguanesolutions/go-runcomfyserverless, `actions.go`)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def error_body(error_code: int, message: str, detail: Any = None) -> JsonDict:
    body: JsonDict = {"error_code": error_code, "error_message": message}
    if detail is not None:
        body["detail"] = detail
    return body


def default_error_code(status: int) -> int:
    """RunComfy's `######` codes are the HTTP status followed by a serial: 404 -> 404001."""
    return status * 1000 + 1


def api_error(
    status: int,
    message: str | None = None,
    *,
    error_code: int | None = None,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An error reply with RunComfy's `{error_code, error_message, detail?}` body."""
    text = message or HTTPStatus(status).phrase
    code = default_error_code(status) if error_code is None else error_code
    return web.json_response(error_body(code, text, detail), status=status, headers=headers)


def validation_error(detail: list[JsonDict]) -> web.Response:
    """422001: the body failed validation; `detail` points at the offending fields."""
    return api_error(422, "Validation Error", error_code=VALIDATION_ERROR, detail=detail)


def detail_item(loc: list[str | int], msg: str, kind: str, where: str = "body") -> JsonDict:
    """One `detail` entry: `{loc: [where, ...], msg, type}`."""
    return {"loc": [where, *loc], "msg": msg, "type": kind}
