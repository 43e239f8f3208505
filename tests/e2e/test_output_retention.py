"""Saved outputs are deleted once they are older than OUTPUT_RETENTION_HOURS, by the bot's own
hourly job; younger ones stay."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from tests.e2e.harness import world


def saved_run(outputs: Path, run_id: str, age: timedelta, now_ts: float) -> Path:
    folder = outputs / run_id
    folder.mkdir(parents=True)
    (folder / "00-image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    stamp = now_ts - age.total_seconds()
    os.utime(folder / "00-image.png", (stamp, stamp))
    os.utime(folder, (stamp, stamp))
    return folder


async def test_outputs_older_than_the_retention_are_deleted_and_fresh_ones_kept(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        world(mongo_uri, tmp_path, output_retention_hours=72) as w,
        w.engine(http=False) as bot,
    ):
        container = bot.container
        now_ts = w.clock.now().timestamp()
        old = saved_run(container.files.outputs_dir, "run-old", timedelta(hours=73), now_ts)
        fresh = saved_run(container.files.outputs_dir, "run-fresh", timedelta(hours=71), now_ts)
        (job,) = [job for job in container.jobs() if job.name == "delete old outputs"]
        assert await job.run() == 1
        assert not old.exists()
        assert (fresh / "00-image.png").read_bytes() == b"\x89PNG\r\n\x1a\n"
        w.clock.advance(timedelta(hours=2).total_seconds())  # now the fresh one is 73 h old
        assert await job.run() == 1
        assert not fresh.exists()
