"""A run's output used as another run's image input (⬆️ Upscale, 🔀 Vary): handed to the launcher
as media, like a file a user sent, so the backend gets it through its own upload (Comfy API v2
takes no image links, and ComfyDeploy's private-bucket links expire after an hour)."""

from __future__ import annotations

from dataclasses import dataclass

from core.files import FileManager, safe_filename
from core.models import OutputKind, Run


def first_image(run: Run) -> int | None:
    """The index of the first image a run made (the one a follow-up feeds on)."""
    return next(
        (i for i, o in enumerate(run.outputs) if o.kind is OutputKind.IMAGE and o.url), None
    )


@dataclass(frozen=True)
class RunOutputImage:
    """Output `index` of `run`, as a `core.requests.Attachment`; its bytes are the file saved
    when the result was delivered, or fetched again from the backend."""

    files: FileManager
    run: Run
    index: int

    @property
    def filename(self) -> str:
        output = self.run.outputs[self.index]
        name = output.filename or (output.url or "").rsplit("/", 1)[-1].split("?", 1)[0]
        return safe_filename(name, f"{self.run.id}.png")

    @property
    def size(self) -> int | None:
        return None

    async def read(self, max_bytes: int) -> bytes:
        return await self.files.fetch_output(self.run, self.index, max_bytes)
