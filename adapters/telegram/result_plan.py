"""How a run's files go to Telegram: photos (alone or in albums), videos, animations, documents,
and links for what is too large to upload."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from adapters.telegram.limits import ALBUM_MAX, PHOTO_MAX_BYTES, UPLOAD_MAX_BYTES
from core.models import OutputKind, ResultFile

SendAs = Literal["photo", "video", "animation", "document"]
PHOTO_MIMES = frozenset({"image/png", "image/jpeg", "image/webp"})


@dataclass(frozen=True)
class ResultPlan:
    photo_groups: list[list[ResultFile]] = field(default_factory=list)
    """Photos in send order: a group of one is a photo, larger groups are albums."""
    singles: list[tuple[SendAs, ResultFile]] = field(default_factory=list)
    links: list[ResultFile] = field(default_factory=list)

    @property
    def media_messages(self) -> int:
        return len(self.photo_groups) + len(self.singles)


def plan_result(files: tuple[ResultFile, ...], upload_max: int = UPLOAD_MAX_BYTES) -> ResultPlan:
    photos: list[ResultFile] = []
    plan = ResultPlan()
    for file in files:
        if file.path is None or file.size > upload_max:
            plan.links.append(file)
        elif file.kind is OutputKind.IMAGE and _photo_ok(file):
            photos.append(file)
        else:
            plan.singles.append((_send_as(file), file))
    plan.photo_groups.extend(_groups(photos))
    return plan


def _photo_ok(file: ResultFile) -> bool:
    return file.size <= PHOTO_MAX_BYTES and file.mime in PHOTO_MIMES


def _send_as(file: ResultFile) -> SendAs:
    if file.kind is OutputKind.VIDEO and file.mime == "video/mp4":
        return "video"
    if file.kind is OutputKind.GIF or file.mime == "image/gif":
        return "animation"
    return "document"


def _groups(photos: list[ResultFile]) -> list[list[ResultFile]]:
    """Albums of up to ten; never a trailing album of one when it can be balanced."""
    groups = [photos[i : i + ALBUM_MAX] for i in range(0, len(photos), ALBUM_MAX)]
    if len(groups) > 1 and len(groups[-1]) == 1:
        groups[-1].insert(0, groups[-2].pop())
    return groups
