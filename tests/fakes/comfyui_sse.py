"""Reading a Comfy API v2 event stream (Server-Sent Events) in tests, with plain aiohttp.

Parses frames per the SSE format (https://html.spec.whatwg.org/multipage/server-sent-events.html):
`event:` and `data:` lines up to a blank line; `:` lines are comments (comfy-api-proxy's
keep-alives), kept so tests can see them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass
class SseEvent:
    event: str
    data: Any
    """The `data:` payload, JSON-decoded (the raw text if it is not JSON)."""
    id: str | None = None


@dataclass
class SseComment:
    text: str


async def read_sse(response: aiohttp.ClientResponse) -> AsyncIterator[SseEvent | SseComment]:
    """Yield each event (and comment) as it arrives, until the server ends the stream."""
    event, data, event_id = "message", [], None
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if line == "":
            if data:
                text = "\n".join(data)
                try:
                    payload: Any = json.loads(text)
                except json.JSONDecodeError:
                    payload = text
                yield SseEvent(event, payload, event_id)
            event, data, event_id = "message", [], None
        elif line.startswith(":"):
            yield SseComment(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value
