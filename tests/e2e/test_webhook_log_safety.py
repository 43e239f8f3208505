"""What a stranger puts in a webhook URL never reaches the log as it came: a run id that is not
one of ours (control characters, a forged log line, a huge value) is logged as "(malformed id)"."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e.harness import world
from tests.e2e.test_webhook_robustness import _body, _post

FORGED = "x\nINFO run 1 delivered to telegram:1\x1b[2J"


@pytest.mark.parametrize("run_id", [FORGED, "a" * 5000, "../../etc/passwd", "run id with spaces"])
async def test_an_unauthenticated_malformed_run_id_is_not_logged_raw(
    mongo_uri: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, run_id: str
) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        caplog.set_level(logging.INFO)
        query = f"run={quote(run_id)}&token=forged"
        assert await _post(bot, query, _body("whatever", "success")) == 403
        refusals = [r.getMessage() for r in caplog.records if "refused (403)" in r.getMessage()]
        assert refusals == ["webhook for run (malformed id) refused (403): bad or missing token"]
        logged = "\n".join(record.getMessage() for record in caplog.records)
        assert run_id not in logged and "\x1b" not in logged
        assert "delivered to telegram" not in logged
        stored = await bot.container.runs_store.recent(5)
        assert stored == []
