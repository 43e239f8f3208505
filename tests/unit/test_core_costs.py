"""Run costs: every backend prices its own deployments; how costs and times read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.backends import BackendRegistry
from core.catalog import Catalog, CatalogFile
from core.chat.presentation import format_cost, format_duration
from core.costs import CostService
from core.errors import BackendUnavailable
from core.workflow import Deployment, DeploymentRef, Discovery, Workflow
from tests.fakes.backend import MemoryBackend
from tests.fakes.clock import FakeClock


class NoSnapshots:
    async def load_snapshots(self) -> dict[str, Discovery]:
        return {}

    async def save_snapshot(self, backend: str, discovery: Discovery) -> None:
        pass


def ref(backend: str, ident: str) -> DeploymentRef:
    return DeploymentRef(backend=backend, id=ident)


FLUX = Workflow(name="flux", command="flux", deployments=(ref("a", "d1"), ref("b", "d1")))


def two_backends() -> tuple[MemoryBackend, MemoryBackend, CostService]:
    a = MemoryBackend(
        "a",
        workflows=[FLUX],
        deployments=[Deployment(backend="a", id="d1", workflow_name="flux", gpu="A10G")],
        prices={"d1": 0.001},
    )
    b = MemoryBackend("b", prices={"d1": 0.0})
    registry = BackendRegistry([a, b])
    catalog = Catalog(registry, NoSnapshots(), CatalogFile(), FakeClock(), timedelta(hours=1))
    return a, b, CostService(registry, catalog)


async def test_each_backend_prices_its_own_deployments() -> None:
    _, _, costs = two_backends()
    assert costs.rate_for(costs.deployment(ref("a", "d1"), FLUX)) == 0.001
    assert costs.rate_for(costs.deployment(ref("b", "d1"), FLUX)) == 0.0
    assert costs.rate_for(costs.deployment(ref("gone", "d1"), FLUX)) is None


async def test_a_deployment_takes_its_discovered_gpu_else_the_workflows() -> None:
    _, _, costs = two_backends()
    catalog_free = costs.deployment(ref("a", "d1"), FLUX.model_copy(update={"gpu": "T4"}))
    assert catalog_free.gpu == "T4"  # not discovered yet: the catalog file's GPU
    await costs._catalog.start()
    assert costs.deployment(ref("a", "d1"), FLUX).gpu == "A10G"


async def test_a_failing_price_list_keeps_the_last_prices_of_that_backend_only() -> None:
    a, b, costs = two_backends()
    a.live_prices = {"d1": 0.002}
    b.live_prices = {"d1": 0.5}
    b.failure = BackendUnavailable("down")
    await costs.refresh()
    assert costs.rate_for(costs.deployment(ref("a", "d1"), FLUX)) == 0.002
    assert costs.rate_for(costs.deployment(ref("b", "d1"), FLUX)) == 0.0


@pytest.mark.parametrize(
    ("usd", "shown"),
    [(None, "n/a"), (0.0, "$0.0000"), (0.0337, "$0.0337"), (0.12345, "$0.1235"),
     (1.0, "$1.00"), (12.345, "$12.35"), (1234.5, "$1234.50")],
)  # fmt: skip
def test_format_cost(usd: float | None, shown: str) -> None:
    assert format_cost(usd) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "n/a"), (0, "0.0s"), (12.34, "12.3s"), (59.9, "59.9s"), (60, "1m 00s"),
     (89.5, "1m 30s"), (125, "2m 05s"), (3599.4, "59m 59s"), (3600, "1h 00m"),
     (3725, "1h 02m"), (90000, "25h 00m")],
)  # fmt: skip
def test_format_duration(seconds: float | None, shown: str) -> None:
    assert format_duration(seconds) == shown


def test_durations_just_under_a_minute_round_up_to_a_minute() -> None:
    assert format_duration(59.96) == "1m 00s"
