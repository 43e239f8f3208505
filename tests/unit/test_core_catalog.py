"""The workflow catalog: catalog-file merge, offline start from the snapshot, TTL, events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from adapters.mongo.catalog import MongoCatalogStore
from adapters.mongo.database import Database
from core.catalog import Catalog, CatalogFile, CatalogView, merge_catalog
from core.errors import BackendUnavailable
from core.models import Deployment, InputSpec, InputType, Workflow
from core.ports import WorkflowBackend
from tests.fakes.clock import FakeClock

TTL = timedelta(minutes=10)
FLUX = Workflow(
    name="flux",
    command="flux",
    description="Text to image",
    deployment_ids=("dep-flux",),
    inputs=(
        InputSpec(name="prompt", type=InputType.TEXT, required=True),
        InputSpec(name="steps", type=InputType.INTEGER, default=20, min=1, max=100),
    ),
)
UPSCALE = Workflow(
    name="upscale",
    command="upscale",
    deployment_ids=("dep-up-1", "dep-up-2"),
    inputs=(InputSpec(name="image", type=InputType.IMAGE, required=True),),
)
DEPLOYMENTS = [
    Deployment(id="dep-flux", workflow_name="flux", gpu="A10G"),
    Deployment(id="dep-up-1", workflow_name="upscale", gpu="T4"),
    Deployment(id="dep-up-2", workflow_name="upscale"),
]


class FakeBackend:
    """Answers list_workflows with whatever the test set, or fails while `down`."""

    def __init__(self, workflows: list[Workflow], deployments: list[Deployment]) -> None:
        self.workflows = workflows
        self.deployments = deployments
        self.down = False
        self.fetches = 0

    async def list_workflows(self) -> tuple[list[Workflow], list[Deployment]]:
        self.fetches += 1
        if self.down:
            raise BackendUnavailable("connection refused")
        return list(self.workflows), list(self.deployments)


def catalog_file(data: dict[str, Any] | None = None) -> CatalogFile:
    """Parsed the way workflows.catalog.yaml is: from plain data."""
    return CatalogFile.model_validate({"workflows": data or {}})


def by_name(workflows: list[Workflow]) -> dict[str, Workflow]:
    return {w.name: w for w in workflows}


class Events:
    def __init__(self) -> None:
        self.views: list[CatalogView] = []

    async def __call__(self, view: CatalogView) -> None:
        self.views.append(view)


def make_catalog(
    backend: FakeBackend,
    db: Database,
    clock: FakeClock | None = None,
    file: CatalogFile | None = None,
) -> Catalog:
    return Catalog(
        cast(WorkflowBackend, backend),
        MongoCatalogStore(db),
        file or catalog_file(),
        clock or FakeClock(),
        TTL,
    )


# -- merge_catalog ------------------------------------------------------------------------------


def test_merge_applies_title_command_description_and_hidden() -> None:
    file = catalog_file(
        {
            "flux": {
                "title": "Flux Dev",
                "command": "fox",
                "description": "Foxes, mostly",
                "hidden": True,
            }
        }
    )
    flux = by_name(merge_catalog([FLUX, UPSCALE], file))["flux"]

    assert (flux.title, flux.command, flux.description, flux.hidden) == (
        "Flux Dev",
        "fox",
        "Foxes, mostly",
        True,
    )
    assert flux.deployment_ids == ("dep-flux",)
    assert flux.inputs == FLUX.inputs


def test_merge_can_unhide_a_workflow() -> None:
    hidden = FLUX.model_copy(update={"hidden": True})
    merged = merge_catalog([hidden], catalog_file({"flux": {"hidden": False}}))
    assert merged[0].hidden is False


def test_merge_applies_input_default_and_limits_and_keeps_the_rest() -> None:
    file = catalog_file(
        {
            "flux": {
                "inputs": {
                    "steps": {"default": 8, "min": 2, "max": 30},
                    "prompt": {"max_length": 400},
                }
            }
        }
    )
    flux = by_name(merge_catalog([FLUX], file))["flux"]
    steps, prompt = flux.input("steps"), flux.input("prompt")

    assert steps == InputSpec(name="steps", type=InputType.INTEGER, default=8, min=2, max=30)
    assert prompt == InputSpec(name="prompt", type=InputType.TEXT, required=True, max_length=400)


def test_merge_leaves_workflows_without_an_entry_untouched() -> None:
    merged = merge_catalog([FLUX, UPSCALE], catalog_file({"flux": {"title": "Flux"}}))
    assert by_name(merged)["upscale"] == UPSCALE


def test_offline_entry_with_deployments_and_typed_inputs_stands_alone() -> None:
    file = catalog_file(
        {
            "sketch": {
                "title": "Sketch",
                "command": "sketch",
                "deployment_ids": ["dep-sketch"],
                "gpu": "L4",
                "inputs": {
                    "prompt": {"type": "text", "required": True},
                    "style": {"type": "choice", "choices": ["ink", "pencil"], "default": "ink"},
                },
            }
        }
    )
    sketch = by_name(merge_catalog([FLUX], file))["sketch"]

    assert sketch.source == "catalog"
    assert sketch.deployment_ids == ("dep-sketch",)
    assert sketch.gpu == "L4"
    assert sketch.text_only
    assert sketch.main_text_input == InputSpec(name="prompt", type=InputType.TEXT, required=True)
    assert sketch.input("style") == InputSpec(
        name="style", type=InputType.CHOICE, choices=("ink", "pencil"), default="ink"
    )


def test_entry_without_deployments_for_an_unknown_workflow_is_ignored() -> None:
    file = catalog_file({"ghost": {"title": "Ghost", "inputs": {"prompt": {"type": "text"}}}})
    assert [w.name for w in merge_catalog([FLUX], file)] == ["flux"]


def test_input_override_without_a_type_for_an_unknown_input_is_ignored() -> None:
    file = catalog_file({"flux": {"inputs": {"nonexistent": {"default": 3}}}})
    assert by_name(merge_catalog([FLUX], file))["flux"].inputs == FLUX.inputs


# -- CatalogView --------------------------------------------------------------------------------


def test_view_indexes_by_name_command_and_deployment() -> None:
    hidden = Workflow(name="internal", command="internal", hidden=True, deployment_ids=("d-x",))
    view = CatalogView([UPSCALE, hidden, FLUX], DEPLOYMENTS)

    assert view.get("flux") == FLUX
    assert view.get("nope") is None
    assert view.by_command("flux") == FLUX
    assert view.by_command("FLUX") == FLUX
    assert view.by_command("fox") is None
    assert view.by_deployment("dep-up-2") == UPSCALE
    assert view.by_deployment("d-x") == hidden
    assert view.by_deployment("dep-unknown") is None
    assert view.deployments["dep-up-1"].gpu == "T4"
    assert [w.name for w in view.workflows] == ["flux", "internal", "upscale"]
    assert [w.name for w in view.visible()] == ["flux", "upscale"]


def test_view_fingerprint_changes_only_with_content() -> None:
    same = CatalogView([UPSCALE, FLUX], list(reversed(DEPLOYMENTS)))
    assert CatalogView([FLUX, UPSCALE], DEPLOYMENTS).fingerprint() == same.fingerprint()
    retitled = FLUX.model_copy(update={"title": "New"})
    changed = CatalogView([retitled, UPSCALE], DEPLOYMENTS)
    assert changed.fingerprint() != same.fingerprint()


# -- Catalog ------------------------------------------------------------------------------------


async def test_start_with_backend_down_serves_the_stored_snapshot(mongo_db: Database) -> None:
    await MongoCatalogStore(mongo_db).save_snapshot([FLUX, UPSCALE], DEPLOYMENTS)
    backend = FakeBackend([], [])
    backend.down = True
    catalog = make_catalog(backend, mongo_db, file=catalog_file({"flux": {"title": "Flux!"}}))

    await catalog.start()

    assert [w.name for w in catalog.view.workflows] == ["flux", "upscale"]
    assert catalog.view.get("flux") == FLUX.model_copy(update={"title": "Flux!"})
    assert catalog.view.by_deployment("dep-up-1") == UPSCALE
    assert catalog.last_error is not None and "connection refused" in catalog.last_error


async def test_start_with_nothing_stored_and_backend_down_serves_the_catalog_file(
    mongo_db: Database,
) -> None:
    backend = FakeBackend([], [])
    backend.down = True
    file = catalog_file({"sketch": {"deployment_ids": ["d-s"], "inputs": {"p": {"type": "text"}}}})
    catalog = make_catalog(backend, mongo_db, file=file)

    await catalog.start()

    assert [w.name for w in catalog.view.workflows] == ["sketch"]


async def test_a_discovered_catalog_is_stored_for_the_next_offline_start(
    mongo_db: Database,
) -> None:
    backend = FakeBackend([FLUX], DEPLOYMENTS[:1])
    await make_catalog(backend, mongo_db).start()

    backend.down = True
    restarted = make_catalog(backend, mongo_db)
    await restarted.start()

    assert restarted.view.workflows == (FLUX,)
    assert restarted.view.deployments == {"dep-flux": DEPLOYMENTS[0]}


async def test_refresh_announces_a_change_once_and_again_only_when_it_differs(
    mongo_db: Database,
) -> None:
    backend = FakeBackend([FLUX], DEPLOYMENTS[:1])
    catalog = make_catalog(backend, mongo_db)
    events = Events()
    catalog.on_change(events)

    assert await catalog.refresh() is True
    assert await catalog.refresh() is False
    assert [view.workflows for view in events.views] == [(FLUX,)]

    backend.workflows = [FLUX, UPSCALE]
    backend.deployments = DEPLOYMENTS
    assert await catalog.refresh() is True

    assert [w.name for w in events.views[-1].workflows] == ["flux", "upscale"]
    assert len(events.views) == 2
    assert catalog.view is events.views[-1]


async def test_start_matching_the_snapshot_announces_nothing(mongo_db: Database) -> None:
    await MongoCatalogStore(mongo_db).save_snapshot([FLUX], DEPLOYMENTS[:1])
    catalog = make_catalog(FakeBackend([FLUX], DEPLOYMENTS[:1]), mongo_db)
    events = Events()
    catalog.on_change(events)

    await catalog.start()

    assert events.views == []
    assert catalog.view.workflows == (FLUX,)


async def test_failed_refresh_keeps_serving_and_announces_nothing(mongo_db: Database) -> None:
    backend = FakeBackend([FLUX], DEPLOYMENTS[:1])
    catalog = make_catalog(backend, mongo_db)
    await catalog.refresh()
    events = Events()
    catalog.on_change(events)

    backend.down = True
    assert await catalog.refresh() is False

    assert catalog.view.workflows == (FLUX,)
    assert events.views == []
    assert catalog.last_error is not None

    backend.down = False
    await catalog.refresh()
    assert catalog.last_error is None


async def test_a_failing_listener_does_not_stop_the_others(mongo_db: Database) -> None:
    catalog = make_catalog(FakeBackend([FLUX], DEPLOYMENTS[:1]), mongo_db)

    async def broken(view: CatalogView) -> None:
        raise RuntimeError("listener bug")

    events = Events()
    catalog.on_change(broken)
    catalog.on_change(events)

    assert await catalog.refresh() is True
    assert len(events.views) == 1


async def test_unforced_refresh_within_ttl_does_not_fetch(mongo_db: Database) -> None:
    clock = FakeClock()
    backend = FakeBackend([FLUX], DEPLOYMENTS[:1])
    catalog = make_catalog(backend, mongo_db, clock)
    await catalog.refresh()
    backend.workflows = [FLUX, UPSCALE]

    clock.advance(TTL.total_seconds() - 1)
    assert await catalog.refresh(force=False) is False
    assert backend.fetches == 1
    assert catalog.view.get("upscale") is None

    assert await catalog.refresh(force=True) is True
    assert backend.fetches == 2


async def test_unforced_refresh_after_ttl_fetches_again(mongo_db: Database) -> None:
    clock = FakeClock()
    backend = FakeBackend([FLUX], DEPLOYMENTS[:1])
    catalog = make_catalog(backend, mongo_db, clock)
    await catalog.refresh()
    backend.workflows = [FLUX, UPSCALE]

    clock.advance(TTL.total_seconds())
    assert await catalog.refresh(force=False) is True
    assert backend.fetches == 2
    assert catalog.view.get("upscale") == UPSCALE


async def test_unforced_refresh_retries_after_a_failure(mongo_db: Database) -> None:
    backend = FakeBackend([FLUX], DEPLOYMENTS[:1])
    backend.down = True
    catalog = make_catalog(backend, mongo_db)
    await catalog.refresh(force=False)

    backend.down = False
    assert await catalog.refresh(force=False) is True
    assert backend.fetches == 2
