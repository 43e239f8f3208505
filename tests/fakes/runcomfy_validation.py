"""Checking an inference body against the deployment's saved graph, as RunComfy documents.

https://docs.runcomfy.com/serverless/async-queue-endpoints: the body carries `overrides` (a
partial graph keyed by node id, each `{"inputs": {...}}`) and/or a full `workflow_api_json`,
optionally `extra_data`; overrides must match the graph — node ids must exist, input keys must
exist under that node's `inputs`, values must fit the node's schema. Media inputs take a public
http(s) URL or a `data:<mime>;base64,...` URI. Failures are 422001 with a `detail` array
(https://docs.runcomfy.com/serverless/error-codes). The fake also refuses to overwrite a linked
input (a `[node_id, slot]` value), which would cut the graph.

Webhook options come as query parameters `webhook` (URL-encoded) and
`webhook_intermediate_status=true`, or in the body (the documented legacy form)
(https://docs.runcomfy.com/serverless/webhooks).
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.runcomfy_wire import JsonDict, detail_item

MEDIA_INPUTS = frozenset({"image", "video", "audio", "file"})
"""Input names whose URL / data-URI values the instance downloads before running."""
DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.DOTALL)


class SubmitRejected(Exception):
    def __init__(self, detail: list[JsonDict]) -> None:
        super().__init__("; ".join(str(item["msg"]) for item in detail))
        self.detail = detail


@dataclass(frozen=True)
class MediaInput:
    """A media value found in the overrides: a URL to fetch or decoded data-URI bytes."""

    node_id: str
    field: str
    value: str
    mime: str | None = None
    data: bytes | None = None

    @property
    def is_url(self) -> bool:
        return self.data is None


@dataclass
class Submission:
    graph: JsonDict
    """The graph the request runs: the saved (or inline) graph with the overrides applied."""
    overrides: JsonDict
    workflow_api_json: JsonDict | None
    extra_data: JsonDict | None
    webhook: str | None
    intermediate: bool
    media: list[MediaInput] = field(default_factory=list)


def is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
    )


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return value is True


def _webhook_url(value: Any, where: str, problems: list[JsonDict]) -> str | None:
    if value is None or value == "":
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        problems.append(
            detail_item(["webhook"], "webhook must be an http(s) URL", "url_parsing", where)
        )
        return None
    return str(value)


def _type_problem(current: Any, value: Any) -> str | None:
    """Why `value` cannot replace `current` (the saved value), or None when it fits."""
    if isinstance(current, bool):
        return None if isinstance(value, bool) else "expected a boolean"
    if isinstance(current, int | float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "expected a number"
    if isinstance(current, str):
        return None if isinstance(value, str) else "expected a string"
    return None


def _media(node_id: str, name: str, value: Any, problems: list[JsonDict]) -> MediaInput | None:
    if name not in MEDIA_INPUTS or not isinstance(value, str):
        return None
    loc: list[str | int] = ["overrides", node_id, "inputs", name]
    if value.startswith("data:"):
        match = DATA_URI.match(value)
        try:
            data = base64.b64decode(match["data"], validate=True) if match else None
        except (binascii.Error, ValueError):
            data = None
        if match is None or not data:
            problems.append(detail_item(loc, "malformed Base64 data URI", "value_error"))
            return None
        return MediaInput(node_id, name, value, match["mime"], data)
    if value.startswith(("http://", "https://")):
        if not urlsplit(value).hostname:
            problems.append(detail_item(loc, "malformed URL", "url_parsing"))
            return None
        return MediaInput(node_id, name, value)
    return None


def _apply(graph: JsonDict, overrides: Any, problems: list[JsonDict]) -> list[MediaInput]:
    if not isinstance(overrides, dict):
        problems.append(detail_item(["overrides"], "overrides must be an object", "dict_type"))
        return []
    media: list[MediaInput] = []
    for node_id, patch in overrides.items():
        loc: list[str | int] = ["overrides", node_id]
        node = graph.get(node_id)
        if not isinstance(node, dict):
            problems.append(
                detail_item(loc, f"node {node_id} does not exist in the workflow", "missing_node")
            )
            continue
        inputs = patch.get("inputs") if isinstance(patch, dict) else None
        if not isinstance(inputs, dict):
            problems.append(detail_item([*loc, "inputs"], "inputs must be an object", "dict_type"))
            continue
        saved = node.setdefault("inputs", {})
        for name, value in inputs.items():
            where: list[str | int] = [*loc, "inputs", name]
            if name not in saved:
                msg = f"input {name!r} does not exist on node {node_id} ({node.get('class_type')})"
                problems.append(detail_item(where, msg, "missing_input"))
            elif is_link(saved[name]):
                msg = f"input {name!r} of node {node_id} is linked to node {saved[name][0]}"
                problems.append(detail_item(where, msg, "linked_input"))
            elif (problem := _type_problem(saved[name], value)) is not None:
                problems.append(detail_item(where, problem, "type_error"))
            else:
                saved[name] = copy.deepcopy(value)
                found = _media(node_id, name, value, problems)
                if found is not None:
                    media.append(found)
    return media


def parse_submission(raw: Any, query: Mapping[str, str], saved_graph: JsonDict) -> Submission:
    """Validate an inference body (and query) against a deployment's saved graph."""
    if not isinstance(raw, dict):
        raise SubmitRejected([detail_item([], "body must be a JSON object", "dict_type")])
    problems: list[JsonDict] = []
    inline = raw.get("workflow_api_json")
    if inline is not None and not isinstance(inline, dict):
        problems.append(
            detail_item(["workflow_api_json"], "workflow_api_json must be an object", "dict_type")
        )
        inline = None
    if "overrides" not in raw and inline is None and not problems:
        problems.append(detail_item(["overrides"], "Field required", "missing"))
    extra = raw.get("extra_data")
    if extra is not None and not isinstance(extra, dict):
        problems.append(detail_item(["extra_data"], "extra_data must be an object", "dict_type"))
    graph = copy.deepcopy(inline) if inline is not None else copy.deepcopy(saved_graph)
    overrides = raw.get("overrides", {})
    media = _apply(graph, overrides, problems)
    hook = query.get("webhook", raw.get("webhook"))
    where = "query" if "webhook" in query else "body"
    webhook = _webhook_url(hook, where, problems)
    intermediate = _truthy(
        query.get("webhook_intermediate_status", raw.get("webhook_intermediate_status", False))
    )
    if problems:
        raise SubmitRejected(problems)
    return Submission(
        graph=graph,
        overrides=copy.deepcopy(overrides) if isinstance(overrides, dict) else {},
        workflow_api_json=copy.deepcopy(inline),
        extra_data=copy.deepcopy(extra) if isinstance(extra, dict) else None,
        webhook=webhook,
        intermediate=intermediate,
        media=media,
    )
