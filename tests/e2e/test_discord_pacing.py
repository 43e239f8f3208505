"""A run's status on Discord with the default progress policy: a burst of updates coalesces
into at most one edit of the response per interval, and an edit Discord answers with a 429 is
sent again after its `retry_after`."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from core.delivery import DeliveryPolicy
from tests.e2e.harness import world
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_e2e import ORIGINAL, Lab, discord_bot

PROMPT = {"prompt": "a heron", "width": 32, "height": 32}
INTERVAL_S = DeliveryPolicy().progress_interval_s
SLACK_S = 0.5
"""Real time between the sender's wake-up and the request reaching the fake, on a loaded host:
an edit that arrived late makes the gap after it look shorter by as much."""


async def test_a_burst_of_progress_is_one_edit_per_interval_and_a_429_is_retried(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with (
        world(mongo_uri, tmp_path) as w,
        FakeDiscord(clock=w.clock) as fake,
        w.engine(delivery_policy=DeliveryPolicy()) as engine,
        discord_bot(w, fake, engine=engine) as dc,
    ):
        lab = Lab.build(fake)
        record = fake.slash_command("txt2img", PROMPT, channel=lab.channel, user=lab.ann)
        await dc.wait_handled(1)
        run = await dc.run_for(record)
        assert run.backend_run_id is not None
        before = len(fake.calls(ORIGINAL))

        started = time.perf_counter()
        for _ in range(4):  # queued, started, running 20 %, 40 %: four updates at once
            await w.sim.advance(run.backend_run_id)
        span_s = time.perf_counter() - started
        await engine.settle()
        burst = fake.calls(ORIGINAL)[before:]
        # One edit per interval the burst spanned, plus the one after it: on a quiet host the
        # burst takes well under an interval and four updates make one or two edits.
        assert 1 <= len(burst) <= 2 + int(span_s / INTERVAL_S), (len(burst), span_s)
        assert all(call.ok for call in burst)
        assert "▰▰▰▰▱▱▱▱▱▱ 40%" in fake.interactions.original(record).content

        fake.fail_next(ORIGINAL, retry_after=0.05)
        await w.sim.advance(run.backend_run_id)  # running 60 %
        await engine.settle()
        limited, accepted = fake.calls(ORIGINAL)[before + len(burst) :]
        assert (limited.status, accepted.status) == (429, 200)
        assert limited.body == accepted.body and "60%" in accepted.body["content"]
        assert accepted.real_time - limited.real_time >= 0.05
        assert "▰▰▰▰▰▰▱▱▱▱ 60%" in fake.interactions.original(record).content

        edits = [call for call in fake.calls(ORIGINAL) if call.ok]
        gaps = [b.real_time - a.real_time for a, b in itertools.pairwise(edits)]
        assert gaps and min(gaps) >= INTERVAL_S - SLACK_S, gaps
