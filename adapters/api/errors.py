"""The API's one error shape, `{"error": {"code", "message", "problems": [{"input", "message"}]}}`,
and the wrapper every route handler runs in: an `ApiError` becomes its response, anything
unexpected is logged with a reference the client is given (never the exception's text)."""

from __future__ import annotations

import functools
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ProblemView:
    input: str | None
    message: str


@dataclass(eq=False)
class ApiError(Exception):
    status: int
    code: str
    message: str
    problems: Sequence[ProblemView] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.code}")


def error_body(error: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    body["problems"] = [{"input": p.input, "message": p.message} for p in error.problems]
    return {"error": body}


def error_response(error: ApiError) -> web.Response:
    return json_response(error_body(error), error.status, error.headers)


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def api_handler(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as error:
            return error_response(error)
        except web.HTTPException:
            raise
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("api: %s %s failed (ref %s)", request.method, request.path, reference)
            return error_response(
                ApiError(500, "internal", f"Something went wrong on our side (ref {reference}).")
            )

    return wrapped


def not_found(what: str = "Not found.") -> ApiError:
    return ApiError(404, "not_found", what)


@api_handler
async def no_such_endpoint(request: web.Request) -> web.StreamResponse:
    raise ApiError(404, "no_such_endpoint", f"No endpoint {request.method} {request.path}.")
