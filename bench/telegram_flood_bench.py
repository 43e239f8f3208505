"""A burst of results under Telegram's flood limits: 200 results to 20 chats at once.

Run: .venv/bin/python -m bench.telegram_flood_bench [--chats 20] [--runs-per-chat 10]

Everything is real but Telegram: python-telegram-bot over HTTP to the fake Bot API, which
enforces the FAQ's limits on real time (1 message a second per chat, 20 a minute per group, 30 a
second overall; edits count like messages: tests/fakes/telegram_limits.py); the whole engine on
the embedded database; the ComfyDeploy simulator as the backend, its webhooks over HTTP. The bot
paces on real time too.

Each chat is a private chat with its own user, who sends their commands; once every status
message is up and every run is one step from its end, every run is finished at once (one
webhook each, all within a few seconds). Measured from there: the time until every result
photo is in its chat and every status message shows its final state without a Cancel
button, and the 429 answers Telegram (the fake) gave.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.mongo.embedded import MEMORY, EmbeddedMongo
from tests.e2e.harness import world
from tests.fakes.telegram_api import FakeTelegram, FloodLimits, MessageHistory
from tests.fakes.telegram_e2e import telegram_bot

FIRST_CHAT = 2001


def is_status(history: MessageHistory) -> bool:
    return "✖ Cancel" in str(history.first.buttons)


def is_final(history: MessageHistory) -> bool:
    return history.final.buttons == [] and "✅ Done" in (history.final.text or "")


async def bench(chats: int, per_chat: int) -> dict[str, Any]:
    total = chats * per_chat
    server = EmbeddedMongo(MEMORY)
    uri = await server.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            fake = FakeTelegram(limits=FloodLimits())
            async with (
                fake,
                world(uri, Path(folder), rate_limit_per_user=0) as w,
                telegram_bot(w, fake, pacing_timer=None) as tg,  # real time
            ):
                started = time.monotonic()
                for n in range(per_chat):
                    for chat in range(FIRST_CHAT, FIRST_CHAT + chats):
                        fake.send_text(chat, chat, f"/txt2img fox {n} width=32 height=32")
                await tg.wait_handled(total, within=600)
                await fake.wait_for(
                    lambda: len(fake.histories(where=is_status)) == total, within=600
                )
                runs = await tg.engine.container.runs_store.recent(total)
                ids = [r.backend_run_id for r in runs if r.backend_run_id is not None]
                assert len(ids) == total
                for rid in ids:  # every run one step before its end
                    sim_run = w.sim.run(rid)
                    while sim_run.next_step < len(sim_run.plan) - 1:
                        await w.sim.advance(rid)
                await tg.engine.settle()
                status_phase_s = time.monotonic() - started
                refused_before = sum(fake.flood_429s.values())
                photos_before = len(fake.sent("sendPhoto"))

                t0 = time.monotonic()
                await asyncio.gather(*(w.sim.advance(rid) for rid in ids))
                finished_s = time.monotonic() - t0
                await fake.wait_for(
                    lambda: (
                        len(fake.sent("sendPhoto")) - photos_before == total
                        and all(is_final(h) for h in fake.histories(where=is_status))
                    ),
                    within=600,
                )
                delivered_s = time.monotonic() - t0
                refused = sum(fake.flood_429s.values()) - refused_before
                await tg.engine.settle()
                statuses = fake.histories(where=is_status)
                return {
                    "results": total,
                    "chats": chats,
                    "delivered_s": round(delivered_s, 2),
                    "all_finished_within_s": round(finished_s, 2),
                    "telegram_429s_after_finish": refused,
                    "status_messages_final": sum(1 for h in statuses if is_final(h)),
                    "status_messages": len(statuses),
                    "floor_s": 2 * per_chat - 1,
                    "status_phase_s": round(status_phase_s, 1),
                    "telegram_429s_status_phase": refused_before,
                }
    finally:
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--runs-per-chat", type=int, default=10)
    args = parser.parse_args()
    load_before = os.getloadavg()
    result = asyncio.run(bench(args.chats, args.runs_per_chat))
    result["load_average_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    result["machine"] = f"{platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}"
    result["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(json.dumps(result, indent=2))
