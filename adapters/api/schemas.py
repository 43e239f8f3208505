"""A workflow's inputs as a JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1:
https://spec.openapis.org/oas/v3.1.0#schema-object): one property per input with its type,
limits, choices and default, the required ones listed, and nothing else accepted but
`callback_url`. What the schema allows is what the engine accepts (it is also lenient where
chat is: "7" for an integer, choices in any case)."""

from __future__ import annotations

from typing import Any

from core.uploads import UPLOAD_PREFIX
from core.validation import INT64_MAX, INT64_MIN
from core.workflow import InputSpec, InputType, Workflow

CALLBACK_FIELD = "callback_url"
Schema = dict[str, Any]

CALLBACK_SCHEMA: Schema = {
    "type": "string",
    "format": "uri",
    "maxLength": 2048,
    "description": (
        "Receives the final result once, as POST, signed with the key's signing secret "
        "(X-Comfybot-Signature: sha256=HMAC of '<X-Comfybot-Timestamp>.<body>')."
    ),
}


def input_schema(spec: InputSpec, max_prompt_chars: int) -> Schema:
    schema: Schema = {"title": spec.label or spec.name}
    if spec.description:
        schema["description"] = spec.description
    if spec.type is InputType.TEXT:
        limit = min(n for n in (spec.max_length, max_prompt_chars) if n is not None)
        schema.update(type="string", minLength=1, maxLength=limit)
    elif spec.type is InputType.INTEGER:
        low = INT64_MIN if spec.min is None else max(int(spec.min), INT64_MIN)
        high = INT64_MAX if spec.max is None else min(int(spec.max), INT64_MAX)
        if spec.is_seed:
            schema["description"] = _joined(spec.description, "Random when left out or -1.")
            schema["anyOf"] = [{"const": -1}, {"minimum": low, "maximum": high}]
            schema["type"] = "integer"
        else:
            schema.update(type="integer", minimum=low, maximum=high)
    elif spec.type is InputType.NUMBER:
        schema["type"] = "number"
        if spec.min is not None:
            schema["minimum"] = spec.min
        if spec.max is not None:
            schema["maximum"] = spec.max
    elif spec.type is InputType.BOOLEAN:
        schema["type"] = "boolean"
    elif spec.type is InputType.CHOICE:
        schema.update(type="string", enum=list(spec.choices or ()))
    elif spec.type is InputType.IMAGE:
        schema.update(
            type="string",
            description=_joined(
                spec.description,
                f"An https URL of an image, or the id of an upload ({UPLOAD_PREFIX}…, "
                "POST /api/v1/uploads).",
            ),
            anyOf=[
                {"format": "uri", "pattern": "^https://"},
                {"pattern": f"^{UPLOAD_PREFIX}[0-9a-f]+$"},
            ],
        )
    if spec.default is not None and spec.default != "" and not spec.type.media:
        schema["default"] = spec.default
    return schema


def workflow_schema(workflow: Workflow, max_prompt_chars: int) -> Schema:
    """The request body of a run of `workflow`."""
    properties = {spec.name: input_schema(spec, max_prompt_chars) for spec in workflow.inputs}
    properties[CALLBACK_FIELD] = CALLBACK_SCHEMA
    schema: Schema = {
        "type": "object",
        "title": workflow.title or workflow.name,
        "properties": properties,
        "additionalProperties": False,
    }
    if workflow.description:
        schema["description"] = workflow.description
    required = [spec.name for spec in workflow.inputs if spec.required]
    if required:
        schema["required"] = required
    return schema


def _joined(*parts: str) -> str:
    return " ".join(part for part in parts if part)
