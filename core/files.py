"""User media in (checked by its bytes) and run outputs out: fetched only from allowed hosts,
streamed to disk with a size cap, deleted after the retention period."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from core.backends import BackendRegistry
from core.errors import BackendError, FileRejected, FileTooLarge, MediaUnavailable
from core.models import Output, OutputKind, ResultFile, Run, UploadedFile
from core.output_hosts import OutputHosts
from core.ports import WorkflowBackend

log = logging.getLogger(__name__)

_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"GIF87a", 0, "image/gif", "gif"),
    (b"GIF89a", 0, "image/gif", "gif"),
    (b"WEBP", 8, "image/webp", "webp"),
)
_OUTPUT_MIME = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "txt": "text/plain",
}


def sniff_image(data: bytes) -> tuple[str, str] | None:
    """(mime, extension) from the bytes themselves; None when not an accepted image."""
    for magic, offset, mime, ext in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic and (ext != "webp" or data[:4] == b"RIFF"):
            return mime, ext
    return None


def safe_filename(name: str, fallback: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name).lstrip(".")
    return cleaned[:120] or fallback


class FileManager:
    def __init__(
        self,
        backends: BackendRegistry,
        data_dir: Path,
        max_input_bytes: int,
        max_output_bytes: int,
        fetch_timeout_s: float,
        extra_output_hosts: Iterable[str] = (),
    ) -> None:
        self._backends = backends
        self._extra_hosts = tuple(extra_output_hosts)
        self._outputs = data_dir / "outputs"
        self.max_input_bytes = max_input_bytes
        self._max_output_bytes = max_output_bytes
        self._fetch_timeout_s = fetch_timeout_s

    @property
    def outputs_dir(self) -> Path:
        """Where outputs are saved: one folder per run."""
        return self._outputs

    def check_image(self, data: bytes, filename: str = "") -> UploadedFile:
        """Accept a user's image only by its bytes: size first, then type."""
        if len(data) > self.max_input_bytes:
            limit_mb = f"{self.max_input_bytes / 1_000_000:g}"
            raise FileRejected("input.image_too_large", limit_mb=limit_mb)
        kind = sniff_image(data)
        if kind is None:
            raise FileRejected("input.not_an_image")
        mime, ext = kind
        stem = Path(safe_filename(filename, "input")).stem or "input"
        return UploadedFile(filename=f"{stem}.{ext}", mime=mime, data=data)

    async def save_outputs(self, run: Run) -> tuple[list[ResultFile], list[str]]:
        """Fetch every media output of a finished run; texts are returned as they are.

        An output over the size cap, or one that cannot be fetched, becomes a link to its URL.
        """
        files: list[ResultFile] = []
        texts: list[str] = []
        backend = self._backends.get(run.backend)
        allowed = OutputHosts((*backend.output_hosts, *self._extra_hosts))
        folder = self._outputs / run.id
        for index, output in enumerate(run.outputs):
            if output.kind is OutputKind.TEXT:
                if output.text:
                    texts.append(output.text)
                continue
            if output.url is None:
                continue
            if not allowed.allows(output.url):
                log.warning("run %s: output from a host not allowed, left out", run.id)
                continue
            files.append(await self._save_one(backend, output, folder, index))
        return files, texts

    async def _save_one(
        self, backend: WorkflowBackend, output: Output, folder: Path, index: int
    ) -> ResultFile:
        assert output.url is not None
        name = _output_name(output, index)
        mime = _OUTPUT_MIME.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")
        link = ResultFile(kind=output.kind, filename=name, mime=mime, size=0, url=output.url)
        path = folder / f"{index:02d}-{name}"
        try:
            async with asyncio.timeout(self._fetch_timeout_s):
                size = await backend.download(output.url, path, self._max_output_bytes)
        except FileTooLarge:
            return link.model_copy(update={"size": self._max_output_bytes + 1})
        except (BackendError, TimeoutError, OSError) as error:
            log.warning("could not fetch output %s: %s", name, error)
            return link
        return link.model_copy(update={"size": size, "path": str(path)})

    async def fetch_output(self, run: Run, index: int, max_bytes: int) -> bytes:
        """One output's bytes, to feed it into another run: the file saved when its result
        was delivered, or else fetched again as a delivery fetches it (allowed hosts only,
        the size cap, the timeout). Raises `FileRejected` past `max_bytes` and
        `MediaUnavailable` when it cannot be had (a backend's signed link may have expired)."""
        output = run.outputs[index]
        path = self._outputs / run.id / f"{index:02d}-{_output_name(output, index)}"
        if not path.is_file():
            backend = self._backends.get(run.backend)
            allowed = OutputHosts((*backend.output_hosts, *self._extra_hosts))
            if output.url is None or not allowed.allows(output.url):
                raise MediaUnavailable()
            try:
                async with asyncio.timeout(self._fetch_timeout_s):
                    await backend.download(output.url, path, self._max_output_bytes)
            except FileTooLarge:
                raise _too_large(max_bytes) from None
            except (BackendError, TimeoutError, OSError) as error:
                log.warning("run %s: could not fetch output %d again: %s", run.id, index, error)
                raise MediaUnavailable() from None
        if path.stat().st_size > max_bytes:
            raise _too_large(max_bytes)
        return await asyncio.to_thread(path.read_bytes)

    async def purge(self, now: datetime, keep: timedelta) -> int:
        """Delete the saved outputs of runs older than `keep`; returns how many runs'."""
        return await asyncio.to_thread(_purge, self._outputs, (now - keep).timestamp())


def _output_name(output: Output, index: int) -> str:
    fallback = f"output{index}"
    return safe_filename(output.filename or (output.url or "").rsplit("/", 1)[-1], fallback)


def _too_large(max_bytes: int) -> FileRejected:
    return FileRejected("input.image_too_large", limit_mb=f"{max_bytes / 1_000_000:g}")


def _purge(folder: Path, before: float) -> int:
    removed = 0
    for run_folder in folder.glob("*"):
        try:
            if run_folder.is_dir() and run_folder.stat().st_mtime < before:
                shutil.rmtree(run_folder)
                removed += 1
        except OSError as error:
            log.warning("could not delete %s: %s", run_folder, error)
    return removed
