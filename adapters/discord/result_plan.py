"""A run's result as Discord messages: the lead message (the mention, what ran, how long, what
it cost, the buttons, and the first files), then any further files, then text that did not fit.

Files go as attachments, up to 10 a message and 25 MiB a request; a file over the upload limit
of the channel (the interaction's `attachment_size_limit`) becomes a link, as does one that
could not be fetched. Each message has a stable key: its part in the delivery journal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapters.discord.limits import FILES_PER_MESSAGE, REQUEST_MAX, split_text
from core.models import ResultFile

LEAD = "result"


@dataclass(frozen=True)
class ResultPart:
    key: str
    text: str = ""
    files: tuple[ResultFile, ...] = ()
    lead: bool = False
    """The first message: it mentions the user and carries the buttons."""

    def as_links(self, too_large: str) -> ResultPart:
        """The same message with its files as links (Discord refused them as too large)."""
        lines = [f"{f.filename}: {f.url}" for f in self.files if f.url]
        text = "\n\n".join(p for p in (self.text, "\n".join([too_large, *lines])) if p)
        return ResultPart(self.key, split_text(text)[0], (), self.lead)


def plan_result(
    head: str,
    files: Sequence[ResultFile],
    texts: Sequence[str],
    file_limit: int,
    too_large: str,
) -> list[ResultPart]:
    """`head` opens the lead message; `too_large` titles the links to files not attached."""
    attached = [f for f in files if f.path is not None and 0 < f.size <= file_limit]
    linked = [f for f in files if f not in attached and f.url]
    blocks = [head, *texts]
    if linked:
        blocks.append("\n".join([too_large, *(f"{f.filename}: {f.url}" for f in linked)]))
    pieces = split_text("\n\n".join(b for b in blocks if b))
    groups = _groups(attached, max(REQUEST_MAX, file_limit))
    parts = [ResultPart(LEAD, pieces[0], tuple(groups[0]) if groups else (), lead=True)]
    parts += [ResultPart(f"files-{i}", files=tuple(g)) for i, g in enumerate(groups[1:], 1)]
    parts += [ResultPart(f"text-{i}", piece) for i, piece in enumerate(pieces[1:], 1)]
    return parts


def _groups(files: Sequence[ResultFile], request_max: int) -> list[list[ResultFile]]:
    groups: list[list[ResultFile]] = []
    size = 0
    for file in files:
        if not groups or len(groups[-1]) >= FILES_PER_MESSAGE or size + file.size > request_max:
            groups.append([])
            size = 0
        groups[-1].append(file)
        size += file.size
    return groups
