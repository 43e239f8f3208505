"""Deterministic PNG outputs made with Pillow: pictures from a prompt, and edits of an input."""

from __future__ import annotations

import hashlib
import io
import random

from PIL import Image, ImageDraw, ImageOps

MAX_SIDE = 4096
NOISE_PIXELS = 2_000_000
"""At or above this many pixels a picture is deterministic noise, so it barely compresses: a
2048x2048 run yields a PNG of more than 10 MB (for tests of large outputs)."""


def _palette(key: str) -> tuple[tuple[int, int, int], ...]:
    digest = hashlib.sha256(key.encode()).digest()
    return tuple((digest[i], digest[i + 1], digest[i + 2]) for i in range(0, 12, 3))


def _encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def clamp_side(value: int) -> int:
    return max(1, min(MAX_SIDE, value))


def render_prompt(prompt: str, seed: int, style: str, width: int, height: int) -> bytes:
    """A PNG of `width`x`height` whose colours and shapes derive from prompt, seed and style."""
    width, height = clamp_side(width), clamp_side(height)
    key = f"{prompt}|{seed}|{style}"
    if width * height >= NOISE_PIXELS:
        noise = random.Random(key).randbytes(width * height * 3)
        return _encode(Image.frombytes("RGB", (width, height), noise))
    first, second, third, fourth = _palette(key)
    gradient = Image.linear_gradient("L").rotate(seed % 360).resize((width, height))
    image = ImageOps.colorize(gradient, black=first, white=second).convert("RGB")
    draw = ImageDraw.Draw(image)
    shapes = random.Random(key)
    for colour in (third, fourth, first):
        x, y = shapes.randrange(width), shapes.randrange(height)
        radius = max(1, min(width, height) // shapes.randint(4, 10))
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    return _encode(image)


def _open(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as source:
        return source.convert("RGB")


def render_edit(source: bytes, denoise: float) -> bytes:
    """img2img: the input blended towards its negative by `denoise` (0 keeps it as it is)."""
    image = _open(source)
    amount = max(0.0, min(1.0, denoise))
    return _encode(Image.blend(image, ImageOps.invert(image), amount))


def render_upscale(source: bytes, scale: int) -> bytes:
    """upscale: the input resized by `scale`, with each side capped at MAX_SIDE."""
    image = _open(source)
    factor = max(1, scale)
    size = (clamp_side(image.width * factor), clamp_side(image.height * factor))
    return _encode(image.resize(size, Image.Resampling.LANCZOS))
