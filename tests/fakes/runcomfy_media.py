"""Media for the fake RunComfy: input downloads (loopback only) and deterministic PNG outputs.

RunComfy fetches media inputs itself: "a publicly accessible HTTPS URL that returns the raw file
via an unauthenticated GET request ... must not require cookies and must not redirect to a login
page" (https://docs.runcomfy.com/serverless-lora/async-queue-endpoints). The fake fetches only
from loopback hosts and records every attempt; any other host, an error status or bytes that are
not an image fail the request. Outputs are Pillow PNGs derived from the graph's prompt, seed,
size and input image, so equal inputs give equal bytes.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from PIL import UnidentifiedImageError

from adapters.simulator import images
from tests.fakes.runcomfy_validation import MediaInput, is_link
from tests.fakes.runcomfy_wire import JsonDict

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
OUTPUT_CLASSES = frozenset({"SaveImage", "PreviewImage"})
LOADER_CLASSES = frozenset({"LoadImage", "LoadImageMask"})
FAIL_WORD = re.compile(r"\bFAIL\b")


class MediaUnavailable(Exception):
    """An input could not be turned into image bytes; the request then fails."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class FetchRecord:
    """One attempt to download a media input; `status` is None when no reply came."""

    url: str
    status: int | None
    size: int = 0
    error: str | None = None


class MediaFetcher:
    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self.session: aiohttp.ClientSession | None = None
        """Set by the server while it runs."""
        self.fetched: list[FetchRecord] = []

    async def load(self, item: MediaInput) -> bytes:
        if item.data is not None:
            return item.data
        url = item.value
        if urlsplit(url).hostname not in LOOPBACK_HOSTS:
            self.fetched.append(FetchRecord(url, None, error="host not reachable from the fake"))
            raise MediaUnavailable(url, "host not reachable")
        if self.session is None:
            raise MediaUnavailable(url, "the fake is not running")
        try:
            async with self.session.get(
                url, timeout=aiohttp.ClientTimeout(total=self.timeout), allow_redirects=False
            ) as response:
                data = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            self.fetched.append(FetchRecord(url, None, error=repr(error)))
            raise MediaUnavailable(url, repr(error)) from error
        self.fetched.append(FetchRecord(url, status, len(data)))
        if status != 200:
            raise MediaUnavailable(url, f"HTTP {status}")
        return data


def _int(value: Any, default: int) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def _float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _of_class(graph: JsonDict, names: frozenset[str]) -> list[tuple[str, JsonDict]]:
    found = [
        (node_id, node)
        for node_id, node in graph.items()
        if isinstance(node, dict) and node.get("class_type") in names
    ]
    return sorted(found, key=lambda item: (len(item[0]), item[0]))


def _inputs(graph: JsonDict, class_type: str) -> JsonDict:
    found = _of_class(graph, frozenset({class_type}))
    return found[0][1].get("inputs", {}) if found else {}


def prompt_text(graph: JsonDict) -> str:
    """The positive prompt: the text node linked to the sampler's `positive`, else all texts."""
    link = _inputs(graph, "KSampler").get("positive")
    if link is not None and is_link(link):
        node = graph.get(link[0], {})
        text = node.get("inputs", {}).get("text") if isinstance(node, dict) else None
        if isinstance(text, str):
            return text
    texts = [
        n.get("inputs", {}).get("text") for _, n in _of_class(graph, frozenset({"CLIPTextEncode"}))
    ]
    return " | ".join(t for t in texts if isinstance(t, str))


def planned_failure(graph: JsonDict) -> str | None:
    """The word FAIL in the prompt makes the run fail (handy for end-to-end tests)."""
    text = prompt_text(graph)
    return "Prompt asked the fake to fail" if FAIL_WORD.search(text) else None


async def render(graph: JsonDict, media: dict[tuple[str, str], bytes]) -> dict[str, list[bytes]]:
    """PNG bytes per output node id. Raises MediaUnavailable for unreadable input images."""
    outputs = _of_class(graph, OUTPUT_CLASSES)
    if not outputs:
        return {}
    sampler = _inputs(graph, "KSampler")
    loaders = _of_class(graph, LOADER_CLASSES)
    pictures: list[bytes]
    if loaders:
        node_id, node = loaders[0]
        value = node.get("inputs", {}).get("image")
        source = media.get((node_id, "image"))
        if source is None:  # a file name already on the instance, e.g. the saved default
            source = images.render_prompt(str(value), 0, "input", 96, 64)
        denoise = _float(sampler.get("denoise"), 0.6)
        try:
            pictures = [await asyncio.to_thread(images.render_edit, source, denoise)]
        except (UnidentifiedImageError, OSError) as error:
            raise MediaUnavailable(str(value)[:80], f"cannot identify image: {error}") from error
    else:
        latent = _inputs(graph, "EmptyLatentImage")
        width, height = _int(latent.get("width"), 512), _int(latent.get("height"), 512)
        count = max(1, min(8, _int(latent.get("batch_size"), 1)))
        seed = _int(sampler.get("seed"), 0)
        text = prompt_text(graph)
        style = str(sampler.get("sampler_name", ""))
        pictures = [
            await asyncio.to_thread(images.render_prompt, text, seed + i, style, width, height)
            for i in range(count)
        ]
    return {node_id: pictures for node_id, _ in outputs}
