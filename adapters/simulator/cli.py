"""`comfybot simulate`: run the simulator in `auto` mode until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Sequence

from adapters.simulator.catalog import DEPLOYMENTS
from adapters.simulator.server import DEFAULT_API_KEY, SimulatorServer

log = logging.getLogger(__name__)


async def serve_forever(
    host: str = "127.0.0.1",
    port: int = 3011,
    api_key: str = DEFAULT_API_KEY,
    step_delay: float = 0.3,
    public_url: str | None = None,
) -> None:
    """Serve until cancelled; the simulator is stopped cleanly on the way out."""
    server = SimulatorServer(
        api_key=api_key,
        mode="auto",
        step_delay=step_delay,
        host=host,
        port=port,
        public_url=public_url,
    )
    await server.start()
    try:
        log.info("ComfyDeploy simulator at %s", server.base_url)
        for deployment in DEPLOYMENTS:
            log.info("deployment %s: %s", deployment.workflow_name, deployment.id)
        await asyncio.Event().wait()
    finally:
        await server.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Local ComfyDeploy-compatible server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3011)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--step-delay", type=float, default=0.3)
    parser.add_argument("--public-url", default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve_forever(args.host, args.port, args.api_key, args.step_delay, args.public_url)
        )
    return 0
