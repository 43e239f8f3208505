"""The workflow catalog: several backends merged, catalog-file merge, offline start from the
snapshots, TTL, events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from adapters.mongo.catalog import MongoCatalogStore
from adapters.mongo.database import Database
from core.backends import BackendRegistry
from core.catalog import Catalog, CatalogFile, CatalogView, merge_catalog
from core.errors import BackendUnavailable
from core.workflow import Deployment, DeploymentRef, Discovery, InputSpec, InputType, Workflow
from tests.fakes.backend import MemoryBackend
from tests.fakes.clock import FakeClock

TTL = timedelta(minutes=10)
B = "cd"


def ref(ident: str, backend: str = B) -> DeploymentRef:
    return DeploymentRef(backend=backend, id=ident)


FLUX = Workflow(
    name="flux",
    command="flux",
    description="Text to image",
    deployments=(ref("dep-flux"),),
    inputs=(
        InputSpec(name="prompt", type=InputType.TEXT, required=True),
        InputSpec(name="steps", type=InputType.INTEGER, default=20, min=1, max=100),
    ),
    backend=B,
)
UPSCALE = Workflow(
    name="upscale",
    command="upscale",
    deployments=(ref("dep-up-1"), ref("dep-up-2")),
    inputs=(InputSpec(name="image", type=InputType.IMAGE, required=True),),
    backend=B,
)
DEPLOYMENTS = [
    Deployment(backend=B, id="dep-flux", workflow_name="flux", gpu="A10G"),
    Deployment(backend=B, id="dep-up-1", workflow_name="upscale", gpu="T4"),
    Deployment(backend=B, id="dep-up-2", workflow_name="upscale"),
]


def backend(
    workflows: list[Workflow], deployments: list[Deployment], name: str = B
) -> MemoryBackend:
    return MemoryBackend(name, workflows=workflows, deployments=deployments)


def down(memory: MemoryBackend) -> MemoryBackend:
    memory.failure = BackendUnavailable("connection refused")
    return memory


def catalog_file(data: dict[str, Any] | None = None) -> CatalogFile:
    """Parsed the way workflows.catalog.yaml is: from plain data."""
    return CatalogFile.model_validate({"workflows": data or {}})


def by_name(workflows: list[Workflow]) -> dict[str, Workflow]:
    return {w.name: w for w in workflows}


def merged(workflows: list[Workflow], file: CatalogFile) -> list[Workflow]:
    return merge_catalog(workflows, file, B)


class Events:
    def __init__(self) -> None:
        self.views: list[CatalogView] = []

    async def __call__(self, view: CatalogView) -> None:
        self.views.append(view)


def make_catalog(
    backends: MemoryBackend | list[MemoryBackend],
    db: Database,
    clock: FakeClock | None = None,
    file: CatalogFile | None = None,
) -> Catalog:
    registry = BackendRegistry(backends if isinstance(backends, list) else [backends])
    return Catalog(
        registry, MongoCatalogStore(db), file or catalog_file(), clock or FakeClock(), TTL
    )


async def store_snapshot(
    db: Database, workflows: list[Workflow], deployments: list[Deployment]
) -> None:
    found = Discovery(workflows=tuple(workflows), deployments=tuple(deployments))
    await MongoCatalogStore(db).save_snapshot(B, found)


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
    flux = by_name(merged([FLUX, UPSCALE], file))["flux"]

    assert (flux.title, flux.command, flux.description, flux.hidden) == (
        "Flux Dev",
        "fox",
        "Foxes, mostly",
        True,
    )
    assert flux.deployments == (ref("dep-flux"),)
    assert flux.inputs == FLUX.inputs


def test_merge_can_unhide_a_workflow() -> None:
    hidden = FLUX.model_copy(update={"hidden": True})
    result = merged([hidden], catalog_file({"flux": {"hidden": False}}))
    assert result[0].hidden is False


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
    flux = by_name(merged([FLUX], file))["flux"]
    steps, prompt = flux.input("steps"), flux.input("prompt")

    assert steps == InputSpec(name="steps", type=InputType.INTEGER, default=8, min=2, max=30)
    assert prompt == InputSpec(name="prompt", type=InputType.TEXT, required=True, max_length=400)


def test_merge_leaves_workflows_without_an_entry_untouched() -> None:
    result = merged([FLUX, UPSCALE], catalog_file({"flux": {"title": "Flux"}}))
    assert by_name(result)["upscale"] == UPSCALE


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
    sketch = by_name(merged([FLUX], file))["sketch"]

    assert sketch.backend == ""
    assert sketch.deployments == (ref("dep-sketch"),)
    assert sketch.gpu == "L4"
    assert sketch.text_only
    assert sketch.main_text_input == InputSpec(name="prompt", type=InputType.TEXT, required=True)
    assert sketch.input("style") == InputSpec(
        name="style", type=InputType.CHOICE, choices=("ink", "pencil"), default="ink"
    )


def test_entry_without_deployments_for_an_unknown_workflow_is_ignored() -> None:
    file = catalog_file({"ghost": {"title": "Ghost", "inputs": {"prompt": {"type": "text"}}}})
    assert [w.name for w in merged([FLUX], file)] == ["flux"]


def test_input_override_without_a_type_for_an_unknown_input_is_ignored() -> None:
    file = catalog_file({"flux": {"inputs": {"nonexistent": {"default": 3}}}})
    assert by_name(merged([FLUX], file))["flux"].inputs == FLUX.inputs


# -- CatalogView --------------------------------------------------------------------------------


def test_offline_entries_name_deployments_on_any_backend() -> None:
    file = catalog_file(
        {"sketch": {"deployment_ids": ["d-1", "rc:d-2"], "inputs": {"p": {"type": "text"}}}}
    )
    sketch = by_name(merged([], file))["sketch"]
    assert sketch.deployments == (ref("d-1"), ref("d-2", "rc"))


def test_an_input_can_be_bound_to_graph_nodes_from_the_catalog_file() -> None:
    bind = [{"node_id": "6", "field": "text"}, {"node_id": "7", "field": "text"}]
    file = catalog_file({"flux": {"inputs": {"prompt": {"bind": bind}}}})
    prompt = by_name(merged([FLUX], file))["flux"].input("prompt")
    assert prompt is not None
    assert [(b.node_id, b.field) for b in prompt.bind] == [("6", "text"), ("7", "text")]
    assert prompt.required  # the rest of the input is kept


def test_view_indexes_by_name_and_deployment() -> None:
    hidden = Workflow(name="internal", command="internal", hidden=True, deployments=(ref("d-x"),))
    view = CatalogView([UPSCALE, hidden, FLUX], DEPLOYMENTS)

    assert view.get("flux") == FLUX
    assert view.get("nope") is None
    assert view.deployments["cd:dep-up-1"].gpu == "T4"
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
    await store_snapshot(mongo_db, [FLUX, UPSCALE], DEPLOYMENTS)
    catalog = make_catalog(
        down(backend([], [])), mongo_db, file=catalog_file({"flux": {"title": "Flux!"}})
    )

    await catalog.start()

    assert [w.name for w in catalog.view.workflows] == ["flux", "upscale"]
    assert catalog.view.get("flux") == FLUX.model_copy(update={"title": "Flux!"})
    assert catalog.view.deployments["cd:dep-up-1"] == DEPLOYMENTS[1]
    assert catalog.last_error is not None and "connection refused" in catalog.last_error


async def test_start_with_nothing_stored_and_backend_down_serves_the_catalog_file(
    mongo_db: Database,
) -> None:
    file = catalog_file({"sketch": {"deployment_ids": ["d-s"], "inputs": {"p": {"type": "text"}}}})
    catalog = make_catalog(down(backend([], [])), mongo_db, file=file)

    await catalog.start()

    assert [w.name for w in catalog.view.workflows] == ["sketch"]


async def test_a_discovered_catalog_is_stored_for_the_next_offline_start(
    mongo_db: Database,
) -> None:
    memory = backend([FLUX], DEPLOYMENTS[:1])
    await make_catalog(memory, mongo_db).start()

    restarted = make_catalog(down(memory), mongo_db)
    await restarted.start()

    assert restarted.view.workflows == (FLUX,)
    assert restarted.view.deployments == {"cd:dep-flux": DEPLOYMENTS[0]}


async def test_refresh_announces_a_change_once_and_again_only_when_it_differs(
    mongo_db: Database,
) -> None:
    memory = backend([FLUX], DEPLOYMENTS[:1])
    catalog = make_catalog(memory, mongo_db)
    events = Events()
    catalog.on_change(events)

    assert await catalog.refresh() is True
    first = catalog.view
    assert await catalog.refresh() is False
    assert catalog.view is first  # unchanged: the same view object, compared by identity
    assert [view.workflows for view in events.views] == [(FLUX,)]

    memory.workflows = [FLUX, UPSCALE]
    memory.deployments = DEPLOYMENTS
    assert await catalog.refresh() is True

    assert [w.name for w in events.views[-1].workflows] == ["flux", "upscale"]
    assert len(events.views) == 2
    assert catalog.view is events.views[-1]


async def test_start_matching_the_snapshot_announces_nothing(mongo_db: Database) -> None:
    await store_snapshot(mongo_db, [FLUX], DEPLOYMENTS[:1])
    catalog = make_catalog(backend([FLUX], DEPLOYMENTS[:1]), mongo_db)
    events = Events()
    catalog.on_change(events)

    await catalog.start()

    assert events.views == []
    assert catalog.view.workflows == (FLUX,)


async def test_failed_refresh_keeps_serving_and_announces_nothing(mongo_db: Database) -> None:
    memory = backend([FLUX], DEPLOYMENTS[:1])
    catalog = make_catalog(memory, mongo_db)
    await catalog.refresh()
    events = Events()
    catalog.on_change(events)

    down(memory)
    assert await catalog.refresh() is False

    assert catalog.view.workflows == (FLUX,)
    assert events.views == []
    assert catalog.last_error is not None

    memory.failure = None
    await catalog.refresh()
    assert catalog.last_error is None


async def test_a_failing_listener_does_not_stop_the_others(mongo_db: Database) -> None:
    catalog = make_catalog(backend([FLUX], DEPLOYMENTS[:1]), mongo_db)

    async def broken(view: CatalogView) -> None:
        raise RuntimeError("listener bug")

    events = Events()
    catalog.on_change(broken)
    catalog.on_change(events)

    assert await catalog.refresh() is True
    assert len(events.views) == 1


async def test_unforced_refresh_within_ttl_does_not_fetch(mongo_db: Database) -> None:
    clock = FakeClock()
    memory = backend([FLUX], DEPLOYMENTS[:1])
    catalog = make_catalog(memory, mongo_db, clock)
    await catalog.refresh()
    memory.workflows = [FLUX, UPSCALE]

    clock.advance(TTL.total_seconds() - 1)
    assert await catalog.refresh(force=False) is False
    assert memory.discoveries == 1
    assert catalog.view.get("upscale") is None

    assert await catalog.refresh(force=True) is True
    assert memory.discoveries == 2


async def test_unforced_refresh_after_ttl_fetches_again(mongo_db: Database) -> None:
    clock = FakeClock()
    memory = backend([FLUX], DEPLOYMENTS[:1])
    catalog = make_catalog(memory, mongo_db, clock)
    await catalog.refresh()
    memory.workflows = [FLUX, UPSCALE]

    clock.advance(TTL.total_seconds())
    assert await catalog.refresh(force=False) is True
    assert memory.discoveries == 2
    assert catalog.view.get("upscale") == UPSCALE


async def test_unforced_refresh_retries_after_a_failure(mongo_db: Database) -> None:
    memory = down(backend([FLUX], DEPLOYMENTS[:1]))
    catalog = make_catalog(memory, mongo_db)
    await catalog.refresh(force=False)

    memory.failure = None
    assert await catalog.refresh(force=False) is True
    assert memory.discoveries == 2


# -- several backends ---------------------------------------------------------------------------


async def test_one_name_on_two_backends_is_one_workflow_with_both_deployments(
    mongo_db: Database,
) -> None:
    other = FLUX.model_copy(update={"deployments": (ref("dep-flux", "rc"),), "backend": "rc"})
    rc_deployment = Deployment(backend="rc", id="dep-flux", workflow_name="flux", gpu="AMPERE_24")
    catalog = make_catalog(
        [
            backend([FLUX], DEPLOYMENTS[:1]),
            backend([other, UPSCALE.model_copy(update={"backend": "rc"})], [rc_deployment], "rc"),
        ],
        mongo_db,
    )
    await catalog.start()

    flux = catalog.view.get("flux")
    assert flux is not None
    assert flux.deployments == (ref("dep-flux"), ref("dep-flux", "rc"))
    assert flux.backend == B  # the first backend's workflow, inputs and all
    assert set(catalog.view.deployments) == {"cd:dep-flux", "rc:dep-flux"}
    assert catalog.view.deployments["rc:dep-flux"].gpu == "AMPERE_24"
    assert catalog.view.get("upscale") is not None


async def test_a_backend_that_is_down_keeps_its_workflows_while_others_refresh(
    mongo_db: Database,
) -> None:
    first = backend([FLUX], DEPLOYMENTS[:1])
    second = backend([UPSCALE.model_copy(update={"backend": "rc"})], [], "rc")
    catalog = make_catalog([first, second], mongo_db)
    await catalog.start()

    down(second)
    first.workflows = [FLUX.model_copy(update={"title": "Flux 2"})]
    assert await catalog.refresh() is True

    assert [w.name for w in catalog.view.workflows] == ["flux", "upscale"]
    assert (catalog.view.get("flux") or FLUX).title == "Flux 2"
    assert catalog.last_error == "rc: connection refused"

    restarted = make_catalog([down(backend([], [])), second], mongo_db)
    await restarted.start()
    assert [w.name for w in restarted.view.workflows] == ["flux", "upscale"]
