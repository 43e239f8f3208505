"""Load workflows.catalog.yaml and routing.yaml; a bad file stops start-up with a clear message."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.settings import SettingsError
from core.catalog import CatalogFile
from core.routing import RoutingFile

M = TypeVar("M", bound=BaseModel)


def load_catalog_file(path: Path) -> CatalogFile:
    return _load(path, CatalogFile, "CATALOG_FILE")


def load_routing_file(path: Path) -> RoutingFile:
    return _load(path, RoutingFile, "ROUTING_FILE")


def _load(path: Path, model: type[M], setting: str) -> M:
    if not path.exists():
        return model()
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return model.model_validate(data)
    except yaml.YAMLError as error:
        raise SettingsError(f"{setting}: {path} is not valid YAML: {error}") from None
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise SettingsError(f"{setting}: {path}: {problems}") from None
