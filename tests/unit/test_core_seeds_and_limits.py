"""Seeds drawn within their input's bounds, `-1` for random, and the size limits a workflow
gets when its backend declares none."""

from __future__ import annotations

from core.catalog import CatalogFile, InputOverride, WorkflowOverride, merge_catalog
from core.input_limits import with_default_limits
from core.seeds import SEED_MAX, asks_random, new_seed, reseeded, with_seed, without_random_request
from core.workflow import InputSpec, InputType, Workflow

SEED = InputSpec(name="seed", type=InputType.INTEGER, min=0, default=0)
FLOW = Workflow(
    name="flux",
    command="flux",
    inputs=(InputSpec(name="prompt", type=InputType.TEXT, required=True), SEED),
)


def test_an_integer_named_seed_is_a_seed_unless_the_catalog_says_otherwise() -> None:
    assert FLOW.seed_input == SEED
    noise = InputSpec(name="noise_seed", type=InputType.INTEGER, seed=True)
    assert noise.is_seed and not InputSpec(name="noise_seed", type=InputType.INTEGER).is_seed
    assert not SEED.model_copy(update={"seed": False}).is_seed
    assert not InputSpec(name="seed", type=InputType.TEXT).is_seed
    catalog = CatalogFile(
        workflows={
            "flux": WorkflowOverride(
                upscale_with="up", vary_with="i2i", inputs={"seed": InputOverride(seed=False)}
            )
        }
    )
    (merged,) = merge_catalog([FLOW], catalog, "comfydeploy")
    assert merged.seed_input is None
    assert (merged.upscale_with, merged.vary_with) == ("up", "i2i")


def test_a_seed_is_drawn_when_none_or_minus_one_is_given() -> None:
    assert asks_random(-1) and asks_random(" -1 ") and not asks_random(1) and not asks_random(True)
    assert without_random_request(FLOW, {"prompt": "a", "seed": "-1"}) == {"prompt": "a"}
    drawn = with_seed(FLOW, {"prompt": "a"}, lambda low, high: high)
    assert drawn == {"prompt": "a", "seed": SEED_MAX}
    assert with_seed(FLOW, {"prompt": "a", "seed": 7}) == {"prompt": "a", "seed": 7}
    assert reseeded(FLOW, {"prompt": "a", "seed": 7}, lambda low, high: low) == {
        "prompt": "a",
        "seed": 0,
    }


def test_a_drawn_seed_keeps_within_the_inputs_bounds() -> None:
    narrow = InputSpec(name="seed", type=InputType.INTEGER, min=10, max=20)
    assert {new_seed(narrow) for _ in range(200)} <= set(range(10, 21))
    huge = InputSpec(name="seed", type=InputType.INTEGER, min=-5, max=2**64)
    assert new_seed(huge, lambda low, high: high) == SEED_MAX
    assert new_seed(huge, lambda low, high: low) == 0


def test_sizes_and_batches_get_limits_when_the_backend_gives_none() -> None:
    flow = Workflow(
        name="f",
        command="f",
        inputs=(
            InputSpec(name="Width", type=InputType.INTEGER),
            InputSpec(name="height", type=InputType.INTEGER, min=-1, max=1024),
            InputSpec(name="batch_size", type=InputType.INTEGER, max=4),
            InputSpec(name="steps", type=InputType.INTEGER),
        ),
    )
    width, height, batch, steps = with_default_limits(flow).inputs
    assert (width.min, width.max) == (16, 4096)
    assert (height.min, height.max) == (1, 1024)  # declared bounds win, but stay positive
    assert (batch.min, batch.max) == (1, 4)
    assert (steps.min, steps.max) == (None, None)
    assert with_default_limits(FLOW) is FLOW
