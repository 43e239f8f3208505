"""Why a run ended, as a notice to translate: the engine writes its own reasons as English
sentences on the run (`Run.error`: a cancel, a timeout, a lost or unsubmitted run); a backend
writes its words there too (a node error, an image that could not be fetched).

The engine's sentences are recognised here and become message keys with their parameters, so
they read in the user's language; anything else is the backend's and is shown as it is.
"""

from __future__ import annotations

import re

from core.notices import Notice

_ENGINE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Cancelled by (?P<user>.+)\.$"), "reason.cancelled_by"),
    (re.compile(r"^The backend no longer knows this run\.$"), "reason.lost"),
    (re.compile(r"^The run took longer than (?P<seconds>\d+) seconds\.$"), "reason.took_longer"),
    (
        re.compile(r"^The bot restarted before this run was queued; run it again\.$"),
        "reason.restarted",
    ),
)
_NOT_STARTED = re.compile(r"^Could not start the run \((?P<why>.+)\)\.$")
_WHY: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^no answer from the backend; it may still run, unseen$"), "reason.no_answer"),
    (re.compile(r"^the backend refused it, HTTP (?P<status>\S+)$"), "reason.refused"),
    (re.compile(r"^backend unreachable$"), "reason.unreachable"),
)


def engine_reason(error: str) -> Notice | None:
    """The notice for one of the engine's own reasons; None for a backend's words."""
    text = error.strip()
    for pattern, key in _ENGINE:
        match = pattern.match(text)
        if match:
            return Notice.of(key, **match.groupdict())
    match = _NOT_STARTED.match(text)
    if match is None:
        return None
    why = match.group("why")
    for pattern, key in _WHY:
        inner = pattern.match(why)
        if inner:
            return Notice.of("reason.not_started", why=Notice.of(key, **inner.groupdict()))
    return Notice.of("reason.not_started", why=why)
