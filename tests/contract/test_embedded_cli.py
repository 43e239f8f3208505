"""CLI commands and `doctor` next to a running bot's embedded database."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.mongo import MongoRunStore, open_database
from adapters.mongo.embedded import EmbeddedMongo
from adapters.mongo.folder_report import database_folder_status
from bot.doctor import run_doctor
from bot.settings import Settings
from tests.contract.embedded_procs import ROOT, Processes
from tests.contract.runs_data import make_run


@pytest.fixture
def procs() -> Iterator[Processes]:
    register = Processes()
    try:
        yield register
    finally:
        register.kill_all()


def cli_environment(data_dir: Path) -> dict[str, str]:
    """No MONGODB_URI: the CLI must find (or start) the embedded database in DATA_DIR."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COMFYDEPLOY_", "TELEGRAM_", "MONGODB_", "DATA_DIR"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        COMFYDEPLOY_API_URL="http://127.0.0.1:9",
        COMFYDEPLOY_API_KEY="unused",
        DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
    )
    return env


async def comfybot(*args: str, data_dir: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=data_dir.parent,
        env=cli_environment(data_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def doctor_settings(data_dir: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, mongodb_uri=None)  # type: ignore[call-arg]


async def test_runs_command_reads_through_the_running_bots_database(
    tmp_path: Path, procs: Processes
) -> None:
    data_dir = tmp_path / "data"
    bot = EmbeddedMongo(data_dir / "mongo")
    uri = await bot.start()
    procs.track(bot.server_pid, bot.keeper_pid)
    try:
        client, db = await open_database(uri, "comfybot")
        run = make_run()
        try:
            await MongoRunStore(db).insert(run)
        finally:
            await client.close()

        code, out, err = await comfybot("runs", "--limit", "5", data_dir=data_dir)
        assert code == 0, err
        assert run.id in out
        assert bot.server_pid is not None and bot.keeper_pid is not None
        assert os.getpgid(bot.server_pid) == bot.keeper_pid  # the bot's server still runs
    finally:
        await bot.stop()


async def test_a_second_bot_fails_in_one_line(tmp_path: Path, procs: Processes) -> None:
    data_dir = tmp_path / "data"
    bot = EmbeddedMongo(data_dir / "mongo")
    await bot.start()
    procs.track(bot.server_pid, bot.keeper_pid)
    try:
        code, _, err = await comfybot("run", data_dir=data_dir)
        assert code == 1
        assert err.strip().splitlines()[-1].startswith("comfybot: database folder")
        assert "Traceback" not in err
    finally:
        await bot.stop()


async def test_doctor_names_the_running_bot_and_a_foreign_server(
    tmp_path: Path, procs: Processes, capsys: pytest.CaptureFixture[str]
) -> None:
    bot_dir = tmp_path / "bot"
    bot = EmbeddedMongo(bot_dir / "mongo")
    await bot.start()
    procs.track(bot.server_pid, bot.keeper_pid)
    try:
        await run_doctor(doctor_settings(bot_dir))
        out = capsys.readouterr().out
        assert f"ok  database: embedded, served by the running bot (pid {os.getpid()})" in out
    finally:
        await bot.stop()

    foreign_dir = tmp_path / "foreign"
    (foreign_dir / "mongo").mkdir(parents=True)
    foreign, _ = procs.bare_server(foreign_dir / "mongo")
    problems = await run_doctor(doctor_settings(foreign_dir))
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("BAD database:")]
    assert len(lines) == 1
    assert f"held by another running database server (pid {foreign.pid})" in lines[0]
    assert any(problem.startswith("database:") for problem in problems)


async def test_doctor_reports_an_unwritable_data_dir_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    await run_doctor(doctor_settings(blocker / "data"))
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("BAD data_dir:")]
    assert len(lines) == 1
    assert lines[0].startswith(f"BAD data_dir: {blocker / 'data'} is not writable")


def test_free_folder_status(tmp_path: Path) -> None:
    assert database_folder_status(tmp_path / "mongo") == (
        True,
        f"embedded, data in {tmp_path / 'mongo'}",
    )
