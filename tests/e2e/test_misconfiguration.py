"""Each misconfiguration is named once, in one line: `doctor` reports it, `run` stops with it and
a non-zero exit, and no token or key ever appears in what is printed."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.simulator import SimulatorServer
from tests.e2e.test_cli_commands import comfybot, environment
from tests.fakes.telegram_api import FakeTelegram

SECRET_KEY = "sk-very-secret-0123456789"


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    async with SimulatorServer() as simulator:
        yield simulator


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_each_misconfiguration_is_one_clear_line(
    sim: SimulatorServer, mongo_uri: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    busy_port = busy.getsockname()[1]
    cases = {
        "wrong key": (
            {"COMFYDEPLOY_API_KEY": SECRET_KEY},
            "comfydeploy: the backend refused our credentials",
        ),
        "no key": ({"COMFYDEPLOY_API_KEY": ""}, "no backend is configured"),
        "no catalog file": (
            {"CATALOG_FILE": str(tmp_path / "nowhere.yaml")},
            f"CATALOG_FILE: {tmp_path / 'nowhere.yaml'} does not exist",
        ),
        "no routing file": (
            {"ROUTING_FILE": str(tmp_path / "nowhere.yaml")},
            f"ROUTING_FILE: {tmp_path / 'nowhere.yaml'} does not exist",
        ),
        "unwritable data dir": (
            {"DATA_DIR": str(blocker / "data")},
            f"DATA_DIR: {blocker / 'data'} is not writable",
        ),
        "database away": (
            {
                "MONGODB_URI": f"mongodb://admin:{SECRET_KEY}@127.0.0.1:{closed_port()}/",
                "MONGODB_TIMEOUT_SECONDS": "0.5",
            },
            "MONGODB_URI: no MongoDB answers",
        ),
        "port in use": (
            {"HTTP_PORT": str(busy_port)},
            f"HTTP_PORT: 127.0.0.1:{busy_port} is already in use",
        ),
    }
    try:

        async def run(name: str) -> tuple[str, int, str]:
            changes, _ = cases[name]
            env = {**environment(sim, mongo_uri, tmp_path / name.replace(" ", "-")), **changes}
            env = {k: v for k, v in env.items() if v != ""}
            code, out, err = await comfybot("run", env=env, cwd=tmp_path)
            return name, code, out + err

        results = await asyncio.gather(*(run(name) for name in cases))
    finally:
        busy.close()
    for name, code, printed in results:
        expected = cases[name][1]
        assert code == 2, (name, printed)
        lines = [line for line in printed.splitlines() if expected in line]
        assert len(lines) == 1, (name, printed)
        assert "Traceback" not in printed, (name, printed)
        assert SECRET_KEY not in printed, name


async def test_doctor_names_each_problem(
    sim: SimulatorServer, mongo_uri: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {
        **environment(sim, mongo_uri, tmp_path),
        "COMFYDEPLOY_API_KEY": SECRET_KEY,
        "CATALOG_FILE": str(tmp_path / "nowhere.yaml"),
        "DATA_DIR": str(blocker / "data"),
    }
    code, out, err = await comfybot("doctor", env=env, cwd=tmp_path)
    assert code == 1
    assert f"BAD catalog_file: {tmp_path / 'nowhere.yaml'} does not exist" in out
    assert f"BAD data_dir: {blocker / 'data'} is not writable" in out
    assert "BAD backend" in out
    assert SECRET_KEY not in out + err


async def test_a_token_telegram_rejects_is_named_and_never_printed(
    sim: SimulatorServer, mongo_uri: str, tmp_path: Path
) -> None:
    async with FakeTelegram() as telegram:
        bad = "999999:definitely-not-the-token"
        env = {
            **environment(sim, mongo_uri, tmp_path),
            "TELEGRAM_BOT_TOKEN": bad,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "HTTP_PORT": "0",
        }
        (code, out, err), (dcode, dout, derr) = await asyncio.gather(
            comfybot("run", env=env, cwd=tmp_path), comfybot("doctor", env=env, cwd=tmp_path)
        )
    assert code == 2 and "TELEGRAM_BOT_TOKEN: Telegram rejected the token" in err
    assert dcode == 1 and "BAD telegram: TELEGRAM_BOT_TOKEN: Telegram rejected the token" in dout
    secret = bad.split(":", 1)[1]
    assert secret not in out + err + dout + derr
    assert "Traceback" not in err


async def test_catalog_with_a_refused_key_says_so_and_fails(
    sim: SimulatorServer, mongo_uri: str, tmp_path: Path
) -> None:
    env = {**environment(sim, mongo_uri, tmp_path), "COMFYDEPLOY_API_KEY": SECRET_KEY}
    code, out, err = await comfybot("catalog", "--json", env=env, cwd=tmp_path)
    assert code == 1
    assert out.strip() == "[]"
    assert "comfydeploy:" in err and "401" in err and SECRET_KEY not in err


async def test_doctor_names_an_unreachable_database_a_busy_port_a_missing_file_and_no_key(
    sim: SimulatorServer, mongo_uri: str, tmp_path: Path
) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    busy_port = busy.getsockname()[1]
    nowhere = tmp_path / "nowhere.yaml"
    env = {
        **environment(sim, mongo_uri, tmp_path),
        "MONGODB_URI": f"mongodb://admin:{SECRET_KEY}@127.0.0.1:{closed_port()}/",
        "MONGODB_TIMEOUT_SECONDS": "0.5",
        "HTTP_PORT": str(busy_port),
        "ROUTING_FILE": str(nowhere),
    }
    del env["COMFYDEPLOY_API_KEY"]
    try:
        code, out, err = await comfybot("doctor", env=env, cwd=tmp_path)
    finally:
        busy.close()
    assert code == 1, out + err
    expected = [
        f"BAD routing_file: {nowhere} does not exist",
        f"BAD http_port: 127.0.0.1:{busy_port} is already in use",
        "BAD database: MONGODB_URI does not answer",
        "BAD backend: no backend is configured",
    ]
    for line in expected:
        assert len([seen for seen in out.splitlines() if seen.startswith(line)]) == 1, out
    assert str(nowhere) not in out.replace(expected[0], "")  # not also "ok ... absent"
    assert "4 problem(s)" in out and "all good" not in out
    assert SECRET_KEY not in out + err and "Traceback" not in err
