"""The layering holds: the engine imports no framework, no adapter imports another adapter, the
simulator imports nothing of ours, nothing uses Motor (PyMongo's async API replaced it)."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_CORE = frozenset({"aiohttp", "pymongo", "telegram", "discord", "motor", "yaml"})
ALLOWED_THIRD_PARTY_IN_CORE = frozenset({"pydantic", "cachetools", "tenacity"})
ADAPTERS = sorted(p.name for p in (ROOT / "adapters").iterdir() if (p / "__init__.py").exists())


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every absolute import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def imported_roots(path: Path) -> Iterator[tuple[int, str]]:
    for line, module in imported_modules(path):
        yield line, module.split(".")[0]


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def test_the_scan_sees_the_engine_and_every_kind_of_import(tmp_path: Path) -> None:
    assert len(python_files("core")) >= 10
    assert {"comfydeploy", "console", "http", "mongo", "simulator", "telegram"} <= set(ADAPTERS)
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os.path\nfrom aiohttp import web\nfrom . import sibling\n"
        "def f():\n    import motor.motor_asyncio\nfrom adapters.mongo.kv import X\n",
        encoding="utf-8",
    )
    assert sorted(root for _, root in imported_roots(sample)) == [
        "adapters",
        "aiohttp",
        "motor",
        "os",
    ]
    assert sibling_adapters(sample, "telegram") == ["line 6: adapters.mongo.kv"]


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


def sibling_adapters(path: Path, own: str) -> list[str]:
    return [
        f"line {line}: {module}"
        for line, module in imported_modules(path)
        if module.startswith("adapters.") and module.split(".")[1] != own
    ]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_no_adapter_imports_another_adapter(adapter: str) -> None:
    bad = {
        str(path.relative_to(ROOT)): found
        for path in python_files(f"adapters/{adapter}")
        if (found := sibling_adapters(path, adapter))
    }
    assert bad == {}


def test_the_simulator_imports_nothing_of_ours() -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line} {module}"
        for path in python_files("adapters/simulator")
        for line, module in imported_modules(path)
        if module.split(".")[0] in {"core", "bot", "tests"}
        or (module.startswith("adapters.") and not module.startswith("adapters.simulator"))
    ]
    assert bad == []


def test_nothing_imports_motor() -> None:
    users = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in python_files("bot", "core", "adapters")
        for line, root in imported_roots(path)
        if root == "motor"
    ]
    assert users == []


def test_docstrings_cite_no_file_outside_the_repository() -> None:
    outside = ("../shared", "reference/", "DESIGN.md", "DEVELOPERS.md", "§")
    found = [
        f"{path.relative_to(ROOT)}: {marker}"
        for path in python_files("bot", "core", "adapters")
        for marker in outside
        if marker in path.read_text(encoding="utf-8")
    ]
    assert found == []
