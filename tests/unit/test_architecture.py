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


def imported_modules(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every import in a file, a relative one resolved against the
    file's package under `root` (`from ..mongo import kv` in adapters/telegram is
    adapters.mongo; `from . import sibling` is the package's module `sibling`), as Python does
    (https://docs.python.org/3/reference/import.html#package-relative-imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = path.resolve().parent.relative_to(root.resolve()).parts
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.ImportFrom):
            if node.level > len(package):
                raise ValueError(f"{path}:{node.lineno}: relative import beyond the top level")
            base = ".".join(package[: len(package) - node.level + 1])
            if node.module:
                yield node.lineno, f"{base}.{node.module}" if base else node.module
            else:
                for alias in node.names:
                    yield node.lineno, f"{base}.{alias.name}" if base else alias.name


def imported_roots(path: Path) -> Iterator[tuple[int, str]]:
    for line, module in imported_modules(path):
        yield line, module.split(".")[0]


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def test_the_scan_sees_the_engine_and_every_kind_of_import(tmp_path: Path) -> None:
    assert len(python_files("core")) >= 10
    assert {"comfydeploy", "console", "http", "mongo", "simulator", "telegram"} <= set(ADAPTERS)
    sample = tmp_path / "adapters" / "telegram" / "sample.py"
    sample.parent.mkdir(parents=True)
    sample.write_text(
        "import os.path\nfrom aiohttp import web\nfrom . import sibling\n"
        "def f():\n    import motor.motor_asyncio\nfrom adapters.mongo.kv import X\n"
        "from ..mongo import store\nfrom .. import discord\nfrom .keyboards import k\n",
        encoding="utf-8",
    )
    assert sorted(module for _, module in imported_modules(sample, tmp_path)) == [
        "adapters.discord",
        "adapters.mongo",
        "adapters.mongo.kv",
        "adapters.telegram.keyboards",
        "adapters.telegram.sibling",
        "aiohttp",
        "motor.motor_asyncio",
        "os.path",
    ]
    assert sibling_adapters(sample, "telegram", tmp_path) == [
        "line 6: adapters.mongo.kv",
        "line 7: adapters.mongo",
        "line 8: adapters.discord",
    ]
    simulator = tmp_path / "adapters" / "simulator" / "runs.py"
    simulator.parent.mkdir(parents=True)
    simulator.write_text("from .wire import body\nfrom ..http import server\n", "utf-8")
    assert ours_in_the_simulator([simulator], tmp_path) == [
        "adapters/simulator/runs.py:2 adapters.http"
    ]
    beyond = tmp_path / "adapters" / "far.py"
    beyond.write_text("from ... import anything\n", encoding="utf-8")
    with pytest.raises(ValueError, match="beyond the top level"):
        list(imported_modules(beyond, tmp_path))


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


def sibling_adapters(path: Path, own: str, root: Path = ROOT) -> list[str]:
    return [
        f"line {line}: {module}"
        for line, module in imported_modules(path, root)
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


def ours_in_the_simulator(paths: list[Path], root: Path = ROOT) -> list[str]:
    return [
        f"{path.relative_to(root).as_posix()}:{line} {module}"
        for path in paths
        for line, module in imported_modules(path, root)
        if module.split(".")[0] in {"core", "bot", "tests"}
        or (module.startswith("adapters.") and not module.startswith("adapters.simulator"))
    ]


def test_the_simulator_imports_nothing_of_ours() -> None:
    assert ours_in_the_simulator(python_files("adapters/simulator")) == []


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
