"""`GET /workflows` (every visible workflow: its inputs, their JSON Schema, where it runs and what
a run is expected to cost) and `GET /openapi.json` (the OpenAPI document of the live catalog,
built once per catalog and base URL)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from adapters.api.auth import KeyRing
from adapters.api.config import ApiConfig
from adapters.api.errors import api_handler, json_response
from adapters.api.openapi import PREFIX, build_openapi
from adapters.api.schemas import workflow_schema
from adapters.api.views import credits
from core.catalog import Catalog, CatalogView
from core.price_list import PriceList
from core.workflow import InputSpec, Workflow


class CatalogRoutes:
    def __init__(
        self, keys: KeyRing, catalog: Catalog, prices: PriceList, config: ApiConfig
    ) -> None:
        self._keys = keys
        self._catalog = catalog
        self._prices = prices
        self._config = config
        self._documents: dict[str, tuple[CatalogView, dict[str, Any]]] = {}

    def routes(self, prefix: str) -> list[web.RouteDef]:
        return [
            web.get(f"{prefix}/workflows", api_handler(self.workflows)),
            web.get(f"{prefix}/openapi.json", api_handler(self.openapi)),
        ]

    async def workflows(self, request: web.Request) -> web.StreamResponse:
        await self._keys.caller(request.headers.get("Authorization"))
        base = self._config.base(request)
        entries = [await self._entry(w, base) for w in self._catalog.view.visible()]
        return json_response({"workflows": entries})

    async def _entry(self, workflow: Workflow, base: str) -> dict[str, Any]:
        quote = await self._prices.quote(workflow)
        return {
            "name": workflow.name,
            "title": workflow.title or workflow.name,
            "description": workflow.description,
            "text_only": workflow.text_only,
            "backend": quote.backend,
            "backends": list(dict.fromkeys(ref.backend for ref in workflow.deployments)),
            "inputs": [_input(spec) for spec in workflow.inputs],
            "schema": workflow_schema(workflow, self._config.max_prompt_chars),
            "expected": {
                "seconds": quote.expected_seconds,
                "usd": quote.usd,
                "credits": credits(quote.credits),
                "held": credits(quote.held),
            },
            "urls": {"runs": f"{base}{PREFIX}/workflows/{workflow.name}/runs"},
        }

    async def openapi(self, request: web.Request) -> web.StreamResponse:
        base = self._config.base(request)
        view = self._catalog.view
        cached = self._documents.get(base)
        if cached is None or cached[0] is not view:
            document = build_openapi(view, base, self._config.max_prompt_chars)
            if len(self._documents) > 16:
                self._documents.clear()
            self._documents[base] = cached = (view, document)
        return json_response(cached[1])


def _input(spec: InputSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "label": spec.label or spec.name,
        "type": spec.type.value,
        "required": spec.required,
        "default": spec.default,
        "min": spec.min,
        "max": spec.max,
        "choices": list(spec.choices) if spec.choices is not None else None,
        "description": spec.description,
    }
