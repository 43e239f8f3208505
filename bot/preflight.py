"""Set-up problems found before anything starts, each named in one line (for `run`, which stops
on them, and for `doctor`, which lists them). No line ever contains a secret."""

from __future__ import annotations

import contextlib
import errno
import socket
import uuid
from pathlib import Path

from bot.settings import Settings, SettingsError

DEFAULT_FILES = {
    "catalog_file": Path("workflows.catalog.yaml"),
    "routing_file": Path("routing.yaml"),
}
"""These may be absent (then nothing is overridden); a file named otherwise must exist."""


def missing_files(settings: Settings) -> list[str]:
    problems = []
    for field, default in DEFAULT_FILES.items():
        path: Path = getattr(settings, field)
        if path != default and not path.exists():
            problems.append(f"{field.upper()}: {path} does not exist")
    return problems


def data_dir_problem(settings: Settings) -> str | None:
    """Whether DATA_DIR can be created and written (the embedded database and outputs live
    there)."""
    folder = settings.data_dir
    probe = folder / f".write-test-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        return f"DATA_DIR: {folder} is not writable ({error.strerror or error})"
    return None


def port_problem(settings: Settings) -> str | None:
    """Whether HTTP_PORT is free on HTTP_HOST (port 0 picks a free one)."""
    if settings.http_port == 0:
        return None
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((settings.http_host, settings.http_port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"HTTP_PORT: {settings.http_host}:{settings.http_port} is already in use"
            return f"HTTP_HOST/HTTP_PORT: cannot listen there ({error.strerror or error})"
    return None


def require(*problems: str | None) -> None:
    """Stop with the first problem found."""
    for problem in problems:
        if problem:
            raise SettingsError(problem)


def port_in_use_error(settings: Settings, error: OSError) -> SettingsError:
    with contextlib.suppress(Exception):
        if error.errno == errno.EADDRINUSE:
            return SettingsError(
                f"HTTP_PORT: {settings.http_host}:{settings.http_port} is already in use"
            )
    return SettingsError(f"HTTP_HOST/HTTP_PORT: cannot listen there ({error.strerror or error})")
