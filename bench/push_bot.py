"""The floor for `bench.latency_bench`: the least a bot can do between a run's end and its photo.

Run by the bench as a process: `python -m bench.push_bot --port P --backend URL --telegram URL
--token T`. No database, no state: a ComfyDeploy webhook whose status is `success` makes it GET
the run (as comfybot does, the webhook's outputs being unauthenticated), download the first
image and `sendPhoto` it to the chat named in the webhook URL (`?chat=`), with
python-telegram-bot, as comfybot sends it. Every other webhook is answered and ignored.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

import aiohttp
from aiohttp import web
from telegram import Bot
from telegram.request import HTTPXRequest

from adapters.comfydeploy.client import ComfyDeployClient


async def serve(port: int, backend_url: str, telegram_url: str, token: str) -> None:
    base = telegram_url.rstrip("/")
    request = HTTPXRequest(connection_pool_size=256)  # as PTB's Application has it
    bot = Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot", request=request)
    await bot.initialize()
    client = ComfyDeployClient(backend_url, "sim-key", timeout_s=30)
    session = aiohttp.ClientSession()
    tasks: set[asyncio.Task[None]] = set()

    async def deliver(run_id: str, chat: int) -> None:
        event = await client.get_run(run_id)
        for _ in range(100):  # the simulator lists a run's outputs a moment after its end
            if any(o.url for o in event.outputs):
                break
            await asyncio.sleep(0.01)
            event = await client.get_run(run_id)
        url = next(o.url for o in event.outputs if o.url)
        async with session.get(url) as response:
            data = await response.read()
        await bot.send_photo(chat_id=chat, photo=data, filename="out.png", caption="done")

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("status") == "success":
            task = asyncio.create_task(deliver(body["run_id"], int(request.query["chat"])))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    for task in list(tasks):
        task.cancel()
    with contextlib.suppress(Exception):
        await asyncio.gather(*tasks, return_exceptions=True)
    await runner.cleanup()
    await session.close()
    await client.close()
    await bot.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", required=True)
    parser.add_argument("--telegram", required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.backend, args.telegram, args.token))
