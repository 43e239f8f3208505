"""Discord's 3-second deadline: time from INTERACTION_CREATE to the deferred response.

Run: .venv/bin/python -m bench.discord_bench [--commands N] [--burst K] [--settle]

Everything is real: discord.py over a WebSocket and HTTP to the fake Discord on 127.0.0.1, the
whole engine on the embedded database, the ComfyDeploy simulator as the backend. Each sample is
what the fake measures for one interaction: from sending INTERACTION_CREATE on the gateway to
the defer callback arriving at its REST endpoint (so it includes both hops, the gateway parse,
the handler and the callback request). Commands are `/txt2img` (after its defer: the ban
check, validation, the run recorded, its status message, the submit to the backend) sent
`--burst` at a time, so a command's defer waits behind the database work of the ones before;
button presses are Cancel on those runs' status messages (after the defer: the cancel at the
backend, its webhook, the status change and the cancellation posted to the channel). Without
`--settle` the next burst is sent as soon as the last one's defers arrived, while their work
still runs (a loaded bot); with it, once all of that work is done (an idle bot).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from adapters.mongo.embedded import MEMORY, EmbeddedMongo
from tests.e2e.harness import world
from tests.fakes.discord_api import FakeDiscord, InteractionRecord
from tests.fakes.discord_e2e import DiscordBot, Lab, discord_bot


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(name: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"{name}: n={len(ms)} p50={statistics.median(ms):.1f} ms "
        f"p99={percentile(ms, 0.99):.1f} ms max={max(ms):.1f} ms "
        f"over 1 s: {sum(1 for v in ms if v > 1000)}"
    )


async def wait_all(fake: FakeDiscord, records: list[InteractionRecord]) -> list[float]:
    await fake.wait_for(lambda: all(r.response is not None for r in records), within=60)
    return [r.response.real_seconds for r in records if r.response is not None]


async def bench(commands: int, burst: int, settle: bool) -> None:
    server = EmbeddedMongo(MEMORY)
    uri = await server.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            async with world(uri, Path(folder)) as w, FakeDiscord(clock=w.clock) as fake:
                lab = Lab.build(fake)
                async with discord_bot(w, fake) as dc:
                    await run_bench(dc, lab, commands, burst, settle)
    finally:
        await server.stop()


async def run_bench(dc: DiscordBot, lab: Lab, commands: int, burst: int, settle: bool) -> None:
    fake = dc.fake
    warm_up = [
        fake.slash_command("workflows", channel=lab.channel, user=lab.ann) for _ in range(5)
    ]
    await wait_all(fake, warm_up)
    slash: list[float] = []
    started: list[InteractionRecord] = []
    for offset in range(0, commands, burst):
        batch = [
            fake.slash_command(
                "txt2img",
                {"prompt": f"bench {offset + n}", "width": 32, "height": 32},
                channel=lab.channel,
                user=lab.ann,
            )
            for n in range(min(burst, commands - offset))
        ]
        slash += await wait_all(fake, batch)
        started += batch
        if settle:
            await dc.wait_handled(len(warm_up) + len(started), within=120)
    await fake.wait_for(
        lambda: all(fake.interactions.original(r).custom_ids for r in started), within=60
    )
    presses: list[float] = []
    for offset in range(0, len(started), burst):
        batch = [
            fake.press_button(
                fake.interactions.original(record),
                fake.interactions.original(record).custom_ids[0],
                user=lab.ann,
            )
            for record in started[offset : offset + burst]
        ]
        presses += await wait_all(fake, batch)
        if settle:
            await dc.wait_handled(len(warm_up) + len(started) + len(presses), within=120)
    await dc.wait_handled(len(warm_up) + 2 * len(started), within=120)
    load = os.getloadavg()
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    mode = "each burst's work done before the next" if settle else "no pause between bursts"
    print(f"burst: {burst} interactions at a time, {mode}")
    print(summary("slash command -> defer", slash))
    print(summary("button press -> defer", presses))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--settle", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    asyncio.run(bench(args.commands, args.burst, args.settle))
    print(f"took {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
