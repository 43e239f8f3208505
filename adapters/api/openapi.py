"""The API described as OpenAPI 3.1 (https://spec.openapis.org/oas/v3.1.0), built from the live
catalog: one `POST /workflows/<name>/runs` operation per visible workflow, whose request body is
that workflow's own JSON Schema (schemas.py), so clients can generate typed SDKs. Every status
an operation can answer is listed under it, errors with the one error shape. The document is
built again whenever the catalog changes."""

from __future__ import annotations

import re
from typing import Any

from adapters.api.schemas import Schema, workflow_schema
from core.catalog import CatalogView

PREFIX = "/api/v1"
_OPERATION_ID = re.compile(r"[^A-Za-z0-9_]")
ERRORS = {
    400: "The request is malformed (bad JSON, query or header).",
    401: "No valid API key.",
    402: "Not enough credits for the run's price.",
    403: "The key's user may not do this (banned, not on the allow-list).",
    404: "No such workflow or run (another key's runs read as missing).",
    409: "The Idempotency-Key was used with another body, or the run already ended.",
    410: "The output is no longer kept.",
    413: "The body is too large.",
    415: "The body has the wrong media type.",
    422: "Inputs are invalid: every problem, each naming its input.",
    429: "Over the queue cap or the rate limit: wait Retry-After seconds.",
    500: "Our fault; the message carries a reference.",
    502: "The backend refused the request.",
    503: "No deployment can run the workflow now.",
}
RUN_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Any) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _responses(ok: int, description: str, schema: Any, *errors: int) -> dict[str, Any]:
    responses: dict[str, Any] = {str(ok): {"description": description, "content": _json(schema)}}
    for status in (401, *errors, 500):
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    return responses


def operation_id(workflow: str) -> str:
    return "run_" + _OPERATION_ID.sub("_", workflow)


def build_openapi(view: CatalogView, base: str, max_prompt_chars: int) -> dict[str, Any]:
    paths: dict[str, Any] = {
        f"{PREFIX}/workflows": {
            "get": {
                "operationId": "list_workflows",
                "summary": "Every workflow with its inputs as JSON Schema and its expected cost",
                "responses": _responses(200, "The workflows", _ref("WorkflowList")),
            }
        },
        f"{PREFIX}/runs": {
            "get": {
                "operationId": "list_runs",
                "summary": "The key's runs, newest first, a page at a time",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                    {"name": "after", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": _responses(200, "A page of runs", _ref("RunPage"), 400),
            }
        },
        f"{PREFIX}/runs/{{id}}": {
            "get": {
                "operationId": "get_run",
                "parameters": [RUN_ID],
                "responses": _responses(200, "The run", _ref("Run"), 404),
            }
        },
        f"{PREFIX}/runs/{{id}}/cancel": {
            "post": {
                "operationId": "cancel_run",
                "parameters": [RUN_ID],
                "responses": _responses(
                    200, "The run, cancelled", _ref("Run"), 404, 409, 429, 502
                ),
            }
        },
        f"{PREFIX}/runs/{{id}}/events": {
            "get": {
                "operationId": "run_events",
                "summary": "Server-Sent Events: the current state, changes, then the result",
                "parameters": [RUN_ID],
                "responses": {
                    "200": {
                        "description": (
                            "`event: status` (data: a Run) until `event: result`; while the run"
                            " is unfinished, also `event: preview` (data: `{mime, data}`, data"
                            " a base64 image), the newest at most once a second"
                        ),
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    "401": {"$ref": "#/components/responses/E401"},
                    "404": {"$ref": "#/components/responses/E404"},
                },
            }
        },
        f"{PREFIX}/runs/{{id}}/outputs/{{index}}": {
            "get": {
                "operationId": "get_output",
                "parameters": [
                    RUN_ID,
                    {
                        "name": "index",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    },
                ],
                "responses": {
                    "200": {"description": "The file", "content": {"*/*": {"schema": {}}}},
                    "302": {"description": "The file at the backend"},
                    "401": {"$ref": "#/components/responses/E401"},
                    "404": {"$ref": "#/components/responses/E404"},
                    "410": {"$ref": "#/components/responses/E410"},
                },
            }
        },
        f"{PREFIX}/uploads": {
            "post": {
                "operationId": "upload_image",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {"file": {"type": "string", "format": "binary"}},
                                "required": ["file"],
                            }
                        }
                    },
                },
                "responses": _responses(201, "The upload", _ref("Upload"), 400, 413, 415, 422),
            }
        },
    }
    schemas: dict[str, Schema] = dict(_COMPONENTS)
    for workflow in view.visible():
        schema_name = f"{operation_id(workflow.name)}_inputs"
        schemas[schema_name] = workflow_schema(workflow, max_prompt_chars)
        paths[f"{PREFIX}/workflows/{workflow.name}/runs"] = {
            "post": {
                "operationId": operation_id(workflow.name),
                "summary": workflow.title or workflow.name,
                "description": workflow.description,
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "schema": {"type": "string", "maxLength": 255},
                        "description": "The same key and body within 24 h: the same run.",
                    }
                ],
                "requestBody": {"required": True, "content": _json(_ref(schema_name))},
                "responses": _responses(
                    202,
                    "The run, accepted",
                    _ref("Run"),
                    400,
                    402,
                    403,
                    404,
                    409,
                    413,
                    422,
                    429,
                    503,
                ),
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "comfybot run API", "version": "1"},
        "servers": [{"url": base}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
            "responses": {
                f"E{status}": {"description": text, "content": _json(_ref("Error"))}
                for status, text in ERRORS.items()
            },
        },
    }


_NUMBER_OR_NULL = {"type": ["number", "null"]}
_STRING_OR_NULL = {"type": ["string", "null"]}
_COMPONENTS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "problems"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "problems": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "input": _STRING_OR_NULL,
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
            }
        },
    },
    "Output": {
        "type": "object",
        "properties": {
            "kind": {"type": "string"},
            "filename": {"type": "string"},
            "mime": {"type": "string"},
            "size": {"type": "integer"},
            "url": _STRING_OR_NULL,
            "source_url": _STRING_OR_NULL,
        },
    },
    "Run": {
        "type": "object",
        "required": ["id", "workflow", "status", "final", "urls"],
        "properties": {
            "id": {"type": "string"},
            "workflow": {"type": "string"},
            "status": {
                "type": "string",
                "enum": [
                    "pending",
                    "not-started",
                    "queued",
                    "started",
                    "running",
                    "uploading",
                    "success",
                    "failed",
                    "timeout",
                    "cancelled",
                ],
            },
            "progress": {"type": "number"},
            "live_status": _STRING_OR_NULL,
            "queue_position": {"type": ["integer", "null"]},
            "inputs": {"type": "object"},
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": _STRING_OR_NULL,
            "ended_at": _STRING_OR_NULL,
            "run_time_s": _NUMBER_OR_NULL,
            "cost_usd": _NUMBER_OR_NULL,
            "quote": {
                "type": ["object", "null"],
                "properties": {"credits": {"type": "number"}, "held": {"type": "number"}},
            },
            "charged": _NUMBER_OR_NULL,
            "balance": _NUMBER_OR_NULL,
            "error": _STRING_OR_NULL,
            "outputs": {"type": "array", "items": _ref("Output")},
            "texts": {"type": "array", "items": {"type": "string"}},
            "final": {"type": "boolean"},
            "urls": {
                "type": "object",
                "properties": {
                    "self": {"type": "string"},
                    "events": {"type": "string"},
                    "cancel": {"type": "string"},
                },
            },
        },
    },
    "RunPage": {
        "type": "object",
        "properties": {
            "runs": {"type": "array", "items": _ref("Run")},
            "next": _STRING_OR_NULL,
        },
    },
    "Upload": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "filename": {"type": "string"},
            "mime": {"type": "string"},
            "size": {"type": "integer"},
            "width": {"type": "integer"},
            "height": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": "string", "format": "date-time"},
        },
    },
    "WorkflowList": {
        "type": "object",
        "properties": {"workflows": {"type": "array", "items": {"type": "object"}}},
    },
}
