"""The engine stays free of I/O libraries; nothing uses Motor (PyMongo's async API replaced it)."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_CORE = frozenset({"aiohttp", "pymongo", "telegram", "discord", "motor", "yaml"})
ALLOWED_THIRD_PARTY_IN_CORE = frozenset({"pydantic", "cachetools", "tenacity"})


def imported_roots(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level module) of every absolute import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def test_the_scan_sees_the_engine_and_every_kind_of_import(tmp_path: Path) -> None:
    assert len(python_files("core")) >= 10
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os.path\nfrom aiohttp import web\nfrom . import sibling\n"
        "def f():\n    import motor.motor_asyncio\n",
        encoding="utf-8",
    )
    assert [root for _, root in imported_roots(sample)] == ["os", "aiohttp", "motor"]


@pytest.mark.parametrize("path", python_files("core"), ids=lambda p: p.name)
def test_core_imports_no_io_library(path: Path) -> None:
    bad = [
        f"line {line}: {root}" for line, root in imported_roots(path) if root in FORBIDDEN_IN_CORE
    ]
    assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.parametrize("path", python_files("core"), ids=lambda p: p.name)
def test_core_imports_only_stdlib_core_and_its_few_libraries(path: Path) -> None:
    allowed = set(sys.stdlib_module_names) | ALLOWED_THIRD_PARTY_IN_CORE | {"core"}
    bad = [f"line {line}: {root}" for line, root in imported_roots(path) if root not in allowed]
    assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


def test_nothing_imports_motor() -> None:
    users = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in python_files("bot", "core", "adapters")
        for line, root in imported_roots(path)
        if root == "motor"
    ]
    assert users == []
