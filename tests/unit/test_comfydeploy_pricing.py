"""ComfyDeploy's GPU prices: the published table, the live list over it, and runs priced by GPU."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.comfydeploy import ComfyDeployBackend, ComfyDeployClient
from adapters.comfydeploy.pricing import PUBLISHED_USD_PER_SECOND, GpuPrices
from core.errors import BackendUnavailable
from core.workflow import Deployment


def deployment(gpu: str | None) -> Deployment:
    return Deployment(backend="comfydeploy", id="d1", workflow_name="flux", gpu=gpu)


def test_published_table_before_any_refresh() -> None:
    prices = GpuPrices()
    assert prices.rate_for("A10G") == PUBLISHED_USD_PER_SECOND["A10G"] == 0.000337
    assert prices.rate_for("h100") == 0.002338


def test_unknown_or_missing_gpu_has_no_rate() -> None:
    prices = GpuPrices()
    assert prices.rate_for("TPU-9000") is None
    assert prices.rate_for(None) is None
    assert prices.rate_for("") is None


def test_live_prices_override_and_the_table_fills_the_gaps() -> None:
    prices = GpuPrices()
    prices.update({"T4": 0.0002, "x1": 0.01})
    assert prices.rate_for("T4") == 0.0002
    assert prices.rate_for("X1") == 0.01
    assert prices.rate_for("L4") == 0.000320


def test_an_empty_live_table_changes_nothing() -> None:
    prices = GpuPrices()
    prices.update({})
    assert prices.rate_for("T4") == 0.000180


async def test_the_backend_prices_a_deployment_by_its_gpu_from_the_live_list() -> None:
    async def live(request: web.Request) -> web.Response:
        return web.json_response({"A10G": 0.0005})

    app = web.Application()
    app.router.add_get("/api/platform/gpu-pricing", live)
    async with TestServer(app) as server:
        client = ComfyDeployClient(str(server.make_url("/api")), "key", retries=0)
        backend = ComfyDeployBackend(client)
        try:
            assert backend.usd_per_second(deployment("A10G")) == 0.000337
            await backend.refresh_prices()
            assert backend.usd_per_second(deployment("A10G")) == 0.0005
            assert backend.usd_per_second(deployment("T4")) == 0.000180
            assert backend.usd_per_second(deployment(None)) is None
            assert backend.usd_per_second(None) is None
        finally:
            await backend.close()


async def test_a_pricing_failure_is_a_backend_error() -> None:
    async def down(request: web.Request) -> web.Response:
        return web.Response(status=503)

    app = web.Application()
    app.router.add_get("/api/platform/gpu-pricing", down)
    async with TestServer(app) as server:
        client = ComfyDeployClient(str(server.make_url("/api")), "key", retries=0)
        backend = ComfyDeployBackend(client)
        try:
            with pytest.raises(BackendUnavailable):
                await backend.refresh_prices()
            assert backend.usd_per_second(deployment("T4")) == 0.000180
        finally:
            await backend.close()
