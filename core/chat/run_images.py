"""A run named as an image input's value on a text platform (`/upscale input_image=<run>`, by
its id or a unique prefix of at least six characters): the first image that run made, fed in
as a file the way the ⬆️ Upscale and 🔀 Vary buttons feed it (see core/output_media.py)."""

from __future__ import annotations

import re

from core.chat.run_refs import MIN_PREFIX, RunRefs
from core.errors import UserFacingError
from core.files import FileManager
from core.models import ChatRef
from core.output_media import RunOutputImage, first_image
from core.ports import RunFinder, RunStore

_RUN_ID = re.compile(rf"[0-9a-f]{{{MIN_PREFIX},12}}", re.IGNORECASE)
"""Run ids are 12 hex digits (`core.launcher`), and may be given by a prefix."""


def looks_like_run(value: str) -> bool:
    return _RUN_ID.fullmatch(value.strip()) is not None


class RunImages:
    def __init__(self, store: RunStore, finder: RunFinder, files: FileManager) -> None:
        self._refs = RunRefs(store, finder)
        self._files = files

    async def first_image_of(self, ref: str, chat: ChatRef, admin: bool) -> RunOutputImage:
        """The first image of the run `ref` names, if this user may see it (their own, one
        shown in this chat, any for an admin); refused as a mistyped run id is otherwise."""
        run = await self._refs.resolve(ref, chat, admin, shared=True)
        index = first_image(run)
        if index is None:
            raise UserFacingError("no_image_to_use", run=run.id)
        return RunOutputImage(self._files, run, index)
