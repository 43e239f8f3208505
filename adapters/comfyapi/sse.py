"""Server-sent events off an aiohttp response: `event:` and `data:` lines up to a blank line,
`:` comment lines (keep-alives) skipped, per
https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation.

The stream is the server's, so it is bounded: a frame larger than `max_frame` bytes (a big
preview image) is skipped whole rather than buffered.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

MAX_FRAME = 2 * 1024 * 1024
CHUNK = 16 * 1024


@dataclass(frozen=True)
class Frame:
    event: str
    data: Any
    """The `data:` payload, JSON-decoded; None when it is not JSON."""


async def read_frames(
    response: aiohttp.ClientResponse, max_frame: int = MAX_FRAME
) -> AsyncIterator[Frame]:
    """Every event until the server ends the stream."""
    pending = b""
    data: list[bytes] = []
    event, size, skipping = "message", 0, False
    async for chunk in response.content.iter_chunked(CHUNK):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r")
            if not line:
                if data and not skipping:
                    yield Frame(event, _decode(b"\n".join(data)))
                event, data, size, skipping = "message", [], 0, False
                continue
            size += len(line)
            if skipping or size > max_frame:
                skipping, data = True, []
                continue
            if line.startswith(b":"):
                continue
            name, _, value = line.partition(b":")
            value = value[1:] if value.startswith(b" ") else value
            if name == b"event":
                event = value.decode("utf-8", "replace")
            elif name == b"data":
                data.append(value)
        if len(pending) > max_frame:  # one endless line
            pending, skipping, data = b"", True, []


def _decode(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return None
