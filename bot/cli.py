"""`comfybot`: run, chat, demo, simulate, catalog, runs, apikey, doctor."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any, NoReturn

from pydantic import SecretStr

from adapters.console.notifier import ConsoleNotifier
from adapters.console.session import CONSOLE_USER, ConsoleFront, ConsoleSession, console_words
from adapters.console.terminal import PromptedOutput
from adapters.discord.slash_commands import SlashCommands
from adapters.discord.wording import SYNTAX as DISCORD_SYNTAX
from adapters.mongo.embedded import EmbeddedMongoError
from adapters.simulator import DEFAULT_API_KEY, DEPLOYMENTS, SimulatorServer
from bot import apikeys
from bot.container import Container, build_container
from bot.doctor import run_doctor
from bot.logging_setup import configure_logging
from bot.platforms import start_platforms
from bot.settings import Settings, SettingsError, load_settings
from core.chat.commands import CONSOLE_RULES, DISCORD_RULES, TELEGRAM_RULES
from core.chat.menu_report import left_out_line
from core.chat.presentation import format_cost, format_duration
from core.chat.run_images import RunImages
from core.chat.text_render import TextRenderer

log = logging.getLogger("comfybot")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"comfybot: bad settings:\n{error}", file=sys.stderr)
        return 2
    quiet = args.handler is _demo and "log_level" not in settings.model_fields_set
    level = "WARNING" if quiet else settings.log_level
    configure_logging(level, settings.log_format, _secrets(settings))
    command: Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]] = args.handler
    code = _execute(command, settings, args)
    if command in _READ_ONLY:
        _exit_now(code)
    return code


def _execute(
    command: Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]],
    settings: Settings,
    args: argparse.Namespace,
) -> int:
    try:
        return asyncio.run(command(settings, args))
    except SettingsError as error:
        print(f"comfybot: {error}", file=sys.stderr)
        return 2
    except EmbeddedMongoError as error:
        print(f"comfybot: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _exit_now(code: int) -> NoReturn:
    """End a read-only command as soon as its output is out. Everything it opened is closed by
    now (the container; an embedded server it started stops under its keeper); what is left is
    the interpreter tearing down every library imported, 0.3-0.7 s on a busy 2-core host
    (bench/RESULTS.md, "CLI exit"), which the operator would wait through after the output."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="comfybot", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="command")
    sub.add_parser("run", help="run the bot: engine, HTTP server, chat platforms").set_defaults(
        handler=_run
    )
    sub.add_parser("chat", help="the engine with a console chat").set_defaults(handler=_chat)
    sub.add_parser("demo", help="everything local: simulator, embedded DB, console").set_defaults(
        handler=_demo
    )
    simulate = sub.add_parser("simulate", help="the ComfyDeploy simulator alone")
    simulate.add_argument("--port", type=int, default=8787)
    simulate.set_defaults(handler=_simulate)
    catalog = sub.add_parser("catalog", help="workflows and the commands they become")
    catalog.add_argument("--json", action="store_true")
    catalog.set_defaults(handler=_catalog)
    runs = sub.add_parser("runs", help="recent runs")
    runs.add_argument("--json", action="store_true")
    runs.add_argument("--limit", type=int, default=20)
    runs.set_defaults(handler=_runs)
    apikeys.add_parser(sub)
    sub.choices["apikey"].set_defaults(handler=_apikey)
    sub.add_parser("doctor", help="check settings, database, backend, webhook URL").set_defaults(
        handler=_doctor
    )
    return parser


def _secrets(settings: Settings) -> list[str]:
    values = [
        settings.comfydeploy_api_key,
        settings.comfy_api_key,
        settings.runcomfy_api_token,
        settings.mongodb_uri,
        settings.webhook_secret,
        settings.telegram_bot_token,
        settings.telegram_webhook_secret,
        settings.discord_bot_token,
    ]
    return [v.get_secret_value() for v in values if v is not None]


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT, then: /readyz says 503 (the load balancer stops sending
    traffic), updates are no longer taken, the leases are handed over, running deliveries
    finish within SHUTDOWN_GRACE_SECONDS, and only then does the process exit."""
    stopped = _stop_signal()  # first: a SIGTERM during start-up is a clean stop, too
    container = await build_container(settings)
    try:
        platforms = await start_platforms(container)
        await container.start_http(platforms.routes)
        await container.start_engine(before_reconcile=platforms.start, settle=False)
        container.start_scheduler(platforms.jobs)  # whoever takes the sweeps settles
        log.info("comfybot: instance %s ready", container.instance_id)
        await stopped.wait()
        container.readiness.draining = True
        log.info("comfybot: instance %s draining", container.instance_id)
        await platforms.stop_receiving()
        await container.shutdown(settings.shutdown_grace_seconds)
        await platforms.stop()
    finally:
        await container.close()
    return 0


async def _chat(settings: Settings, args: argparse.Namespace) -> int:
    words = console_words(settings.default_language)
    out = PromptedOutput(sys.stdout)
    notifier = ConsoleNotifier(words, out)
    admins = settings.admin_ids | {CONSOLE_USER.user_key}
    container = await build_container(
        settings.model_copy(update={"admin_ids": admins}), notifiers=[notifier]
    )
    try:
        if settings.public_base_url:
            await container.start_http()
        await container.start_engine()
        container.start_scheduler()
        images = RunImages(container.runs_store, container.finder, container.files)
        front = ConsoleFront(container.chat_service(CONSOLE_RULES), words, notifier, images)
        session = ConsoleSession(front, notifier, container.runs_store, container.clock, out=out)
        await session.run()
    finally:
        await container.close()
    return 0


async def _demo(settings: Settings, args: argparse.Namespace) -> int:
    simulator = SimulatorServer(api_key=DEFAULT_API_KEY, mode="auto")
    await simulator.start()
    port = _free_port()
    demo = settings.model_copy(
        update={
            "comfydeploy_api_url": simulator.base_url,
            "comfydeploy_api_key": SecretStr(DEFAULT_API_KEY),
            "mongodb_uri": None,
            "data_dir": settings.data_dir / "demo",
            "http_host": "127.0.0.1",
            "http_port": port,
            "public_base_url": f"http://127.0.0.1:{port}",
        }
    )
    try:
        return await _chat(demo, args)
    finally:
        await simulator.stop()


async def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    simulator = SimulatorServer(api_key=DEFAULT_API_KEY, mode="auto", port=args.port)
    await simulator.start()
    stopped = _stop_signal()
    print(
        f"ComfyDeploy simulator at {simulator.base_url} (API key: {DEFAULT_API_KEY})", flush=True
    )
    for deployment in DEPLOYMENTS:
        print(f"  {deployment.workflow_name}: deployment {deployment.id}", flush=True)
    try:
        await stopped.wait()
    finally:
        await simulator.stop()
    return 0


async def _catalog(settings: Settings, args: argparse.Namespace) -> int:
    async with _engine(settings) as container:
        await container.catalog.start()
        book = container.chat_service(CONSOLE_RULES).book
        discord = SlashCommands(
            container.chat_service(DISCORD_RULES).book, TextRenderer(DISCORD_SYNTAX)
        )
        telegram = container.chat_service(TELEGRAM_RULES).book
        off_menu = [s.workflow or s.name for s in telegram.left_out()]
        entries = [
            {
                "name": w.name,
                "command": book.command_for(w.name),
                "discord_command": discord.command_for(w.name),
                "description": w.description,
                "text_only": w.text_only,
                "backend": w.backend,
                "deployment_ids": [ref.id for ref in w.deployments],
                "deployments": [ref.model_dump() for ref in w.deployments],
                "backends": list(dict.fromkeys(ref.backend for ref in w.deployments)),
                "telegram_menu": w.name not in off_menu,
                "menu_priority": w.menu_priority,
                "inputs": [
                    {
                        "name": i.name,
                        "type": i.type.value,
                        "required": i.required,
                        "default": i.default,
                        "min": i.min,
                        "max": i.max,
                        "choices": list(i.choices) if i.choices is not None else None,
                        "discord_option": discord.option_for(w.name, i.name),
                    }
                    for i in w.inputs
                ],
            }
            for w in container.catalog.view.visible()
        ]
        if args.json:
            print(json.dumps(entries, indent=2))
        else:
            for entry, workflow in zip(entries, container.catalog.view.visible(), strict=True):
                kind = "text" if workflow.text_only else "needs an image"
                if not entry["telegram_menu"]:
                    kind += ", not in the Telegram menu"
                where = ", ".join(dict.fromkeys(ref.backend for ref in workflow.deployments))
                slash = entry["discord_command"]
                on_discord = f"discord /{slash}" if slash else "not on discord"
                print(
                    f"/{entry['command']:<20} {on_discord:<28} {workflow.name} ({kind}) "
                    f"on {where or '-'} {workflow.description}".rstrip()
                )
        notes = sys.stderr if args.json else sys.stdout
        if off_menu:
            held = sum(1 for spec in telegram.menu() if not spec.builtin)
            typed = "they still run when typed"
            line = left_out_line("the Telegram menu", held, off_menu, typed)
            print(f"comfybot: {line}", file=notes)
        if discord.left_out():
            print(f"comfybot: {discord.left_out_line()}", file=notes)
        failures = container.catalog.failures
        for name, error in failures.items():
            print(f"comfybot: {name}: {error} (shown: its last stored catalog)", file=sys.stderr)
    return 1 if failures else 0


async def _runs(settings: Settings, args: argparse.Namespace) -> int:
    async with _engine(settings) as container:
        runs = await container.runs_store.recent(args.limit)
        if args.json:
            print(json.dumps([r.model_dump(mode="json") for r in runs], indent=2))
            return 0
        for run in runs:
            print(
                f"{run.id}  {run.created_at:%Y-%m-%d %H:%M:%S}  {run.workflow:<16} "
                f"{run.status.value:<11} {format_duration(run.duration_s):>8} "
                f"{format_cost(run.cost_usd):>9}  {run.chat.user_key}"
            )
    return 0


async def _apikey(settings: Settings, args: argparse.Namespace) -> int:
    async with _engine(settings) as container:
        return await apikeys.run_command(container, args)


async def _doctor(settings: Settings, args: argparse.Namespace) -> int:
    problems = await run_doctor(settings)
    return 1 if problems else 0


_READ_ONLY = frozenset({_catalog, _runs, _doctor})
"""Commands that only read and print: they exit at once after their output (`_exit_now`)."""


@contextlib.asynccontextmanager
async def _engine(settings: Settings) -> AsyncIterator[Container]:
    container = await build_container(settings, shared_database=True)
    try:
        yield container
    finally:
        await container.close()


def _stop_signal() -> asyncio.Event:
    """Set on SIGINT or SIGTERM, from now on."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
