"""The checked bytes of a waiting run's media, kept in this process until the run is handed to a
backend, so that each deployment tried gets them uploaded to its own backend (a fallback on
another backend too). Uploads are made once per backend and reused.

The bytes live only here: a run that waits across a restart keeps the files uploaded when it
was recorded, and may then only run on that backend."""

from __future__ import annotations

from collections.abc import Mapping

from core.models import Run, UploadedFile
from core.ports import WorkflowBackend


class MediaHold:
    def __init__(self) -> None:
        self._files: dict[str, dict[str, UploadedFile]] = {}
        self._uploaded: dict[str, dict[str, dict[str, str]]] = {}

    def keep(self, run_id: str, files: Mapping[str, UploadedFile]) -> None:
        self._files[run_id] = dict(files)
        self._uploaded[run_id] = {}

    def holds(self, run_id: str) -> bool:
        return run_id in self._files

    async def uploaded(self, run_id: str, backend: WorkflowBackend) -> dict[str, str]:
        """The run's media as `backend` knows them (input name → its reference), uploading
        them there the first time."""
        done = self._uploaded.get(run_id, {})
        if backend.name not in done:
            files = self._files.get(run_id, {})
            refs = {name: await backend.upload(file) for name, file in files.items()}
            done[backend.name] = refs
        return dict(done[backend.name])

    async def run_ended(self, run: Run) -> None:
        """A run that ended while it waited (cancelled) needs its bytes no more."""
        self.drop(run.id)

    def drop(self, run_id: str) -> None:
        self._files.pop(run_id, None)
        self._uploaded.pop(run_id, None)
