"""RunFinder contract: runs by a prefix of their id, all of them or one user's."""

from __future__ import annotations

from core.models import ChatRef
from core.ports import RunFinder, RunStore
from tests.contract.runs_data import NOW, SECOND, make_run


async def test_runs_are_found_by_prefix_newest_first(
    run_store: RunStore, run_finder: RunFinder
) -> None:
    ann = ChatRef(platform="telegram", chat_id="1", user_id="1")
    bob = ChatRef(platform="telegram", chat_id="2", user_id="2")
    runs = [
        make_run(id="abc123000000", chat=ann, created_at=NOW),
        make_run(id="abc123ff0000", chat=bob, created_at=NOW + SECOND),
        make_run(id="abc124000000", chat=ann, created_at=NOW + 2 * SECOND),
        make_run(id="abc12", chat=ann, created_at=NOW),
    ]
    for run in runs:
        await run_store.insert(run)

    found = await run_finder.find_by_prefix("abc123", None, 10)
    assert [r.id for r in found] == ["abc123ff0000", "abc123000000"]
    mine = await run_finder.find_by_prefix("abc123", "telegram:1", 10)
    assert [r.id for r in mine] == ["abc123000000"]
    assert [r.id for r in await run_finder.find_by_prefix("abc12", None, 2)] == [
        "abc124000000",
        "abc123ff0000",
    ]
    assert await run_finder.find_by_prefix("abc123f", "telegram:1", 10) == []
    assert await run_finder.find_by_prefix("zzz", None, 10) == []
    assert await run_finder.find_by_prefix("", None, 10) == []
    assert (await run_finder.find_by_prefix("abc124", None, 1))[0] == runs[2]


async def test_a_users_runs_come_page_by_page_newest_first(
    run_store: RunStore, run_finder: RunFinder
) -> None:
    ann = ChatRef(platform="api", chat_id="ann", user_id="ann")
    bob = ChatRef(platform="api", chat_id="bob", user_id="bob")
    same_time = [make_run(id=f"same{n:08d}", chat=ann, created_at=NOW) for n in range(3)]
    later = make_run(id="later0000000", chat=ann, created_at=NOW + SECOND)
    for run in [*same_time, later, make_run(id="bobs00000000", chat=bob, created_at=NOW)]:
        await run_store.insert(run)

    first = await run_finder.page("api:ann", None, 2)
    assert [r.id for r in first] == ["later0000000", "same00000002"]
    last = first[-1]
    await run_store.insert(make_run(id="newest000000", chat=ann, created_at=NOW + 2 * SECOND))
    second = await run_finder.page("api:ann", (last.created_at, last.id), 2)
    assert [r.id for r in second] == ["same00000001", "same00000000"]
    assert await run_finder.page("api:ann", (NOW, "same00000000"), 2) == []
    assert [r.id for r in await run_finder.page("api:bob", None, 10)] == ["bobs00000000"]
