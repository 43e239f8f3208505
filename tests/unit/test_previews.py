"""The preview board keeps each run's newest image only, refuses what is not an image or too
big, and tells a run's followers of each new one."""

from __future__ import annotations

from core.previews import PreviewBoard
from tests.fakes.attachments import png


def test_the_newest_image_within_the_cap_is_kept_and_followers_hear_of_it() -> None:
    board = PreviewBoard(max_bytes=4096)
    heard: list[str] = []
    with board.following("r1", lambda: heard.append("r1")):
        first = board.put("r1", png((4, 4)))
        second = board.put("r1", png((8, 8)))
        assert board.put("r1", b"<html>not an image</html>") is None
        assert board.put("r1", b"\x89PNG\r\n\x1a\n" + bytes(5000)) is None  # over the cap
    board.put("r1", png((2, 2)))  # no longer followed
    assert first is not None and second is not None and second.number > first.number
    assert heard == ["r1", "r1"]
    latest = board.latest("r1")
    assert latest is not None and latest.mime == "image/png" and latest.data == png((2, 2))
    assert board.latest("r2") is None
    board.drop("r1")
    assert board.latest("r1") is None
