"""Names users type: slugs within a platform's alphabet and length, made unique by suffixes."""

from __future__ import annotations

import re
import unicodedata


def slug(raw: str, invalid: re.Pattern[str], max_len: int, fallback: str) -> str:
    """Lower-case ASCII, characters outside the alphabet to `_`, runs collapsed, cut to size."""
    ascii_name = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    name = invalid.sub("_", ascii_name.lower())
    name = re.sub(r"_+", "_", name).strip("_")
    return name[:max_len].rstrip("_") or fallback


def option_name(raw: str, invalid: re.Pattern[str], max_len: int, fallback: str) -> str:
    """An option's name: `raw` lowercased, and nothing else when that is a valid name; else
    every character outside the alphabet becomes `_` and it is cut to `max_len`. A name with
    nothing left but `_` (e.g. `日本` -> `__`) is `fallback` instead, which names the input
    no better but is readable (and made unique like any other)."""
    lowered = raw.lower()
    if lowered and len(lowered) <= max_len and invalid.search(lowered) is None:
        return lowered
    name = invalid.sub("_", lowered)[:max_len]
    return name if name.strip("_") else fallback


def unique(name: str, taken: set[str], max_len: int) -> str:
    """`name`, or `name_2`, `name_3` … (cut to fit) when it is taken; the caller records it."""
    if name not in taken:
        return name
    counter = 2
    while True:
        suffix = f"_{counter}"
        candidate = name[: max_len - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        counter += 1


def fit_middle(text: str, max_len: int) -> str:
    """`text` on one line, its middle replaced by an ellipsis when longer than `max_len`: an
    echoed value keeps its start and its end (a file's name, a URL's last part)."""
    text = " ".join(text.split())
    if len(text) <= max_len:
        return text
    tail = (max_len - 1) // 2
    return text[: max_len - 1 - tail].rstrip() + "…" + text[len(text) - tail :].lstrip()


def fit(text: str, max_len: int) -> str:
    """`text` on one line, cut to `max_len` with an ellipsis when longer."""
    text = " ".join(text.split())
    return text if len(text) <= max_len else text[: max_len - 1].rstrip() + "…"
