"""A result as Discord messages: up to 10 files and 25 MiB a message, links past the upload
limit, text past 2,000 characters in messages of its own."""

from __future__ import annotations

from adapters.discord.limits import MIB
from adapters.discord.result_plan import plan_result
from core.models import OutputKind, ResultFile


def image(n: int, size: int = 1000, saved: bool = True) -> ResultFile:
    return ResultFile(
        kind=OutputKind.IMAGE,
        filename=f"out{n}.png",
        mime="image/png",
        size=size,
        path=f"/tmp/out{n}.png" if saved else None,
        url=f"https://backend.example/out{n}.png",
    )


def test_files_go_ten_a_message_with_the_summary_on_the_first() -> None:
    parts = plan_result("<@1> done", [image(n) for n in range(12)], [], 10 * MIB, "Too large:")
    assert [(p.key, len(p.files), p.lead) for p in parts] == [
        ("result", 10, True),
        ("files-1", 2, False),
    ]
    assert parts[0].text == "<@1> done" and parts[1].text == ""


def test_over_the_limit_or_unfetched_files_become_links() -> None:
    files = [image(0), image(1, size=11 * MIB), image(2, saved=False)]
    [lead] = plan_result("<@1> done", files, ["a caption"], 10 * MIB, "Too large to send here:")
    assert [f.filename for f in lead.files] == ["out0.png"]
    assert lead.text == (
        "<@1> done\n\na caption\n\nToo large to send here:\n"
        "out1.png: https://backend.example/out1.png\nout2.png: https://backend.example/out2.png"
    )
    again = lead.as_links("Too large:")
    assert again.files == () and again.text.endswith("out0.png: https://backend.example/out0.png")


def test_a_message_stays_within_25_mib_unless_the_file_limit_is_larger() -> None:
    big = [image(n, size=9 * MIB) for n in range(3)]
    assert [len(p.files) for p in plan_result("x", big, [], 10 * MIB, "")] == [2, 1]
    assert [len(p.files) for p in plan_result("x", big, [], 50 * MIB, "")] == [3]


def test_long_text_continues_in_messages_of_its_own() -> None:
    parts = plan_result("<@1> done", [image(0)], ["word " * 900], 10 * MIB, "")
    assert [p.key for p in parts] == ["result", "text-1", "text-2"]
    assert all(len(p.text) <= 2000 for p in parts) and parts[0].files
