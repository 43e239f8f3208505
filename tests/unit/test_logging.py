"""Log output: secrets masked wherever they appear in the message, JSON lines that parse."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from bot.logging_setup import JsonFormatter, SecretMask, configure_logging

API_KEY = "cd-live-key-0123456789"
BOT_TOKEN = "123456:AAE-telegram-token"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Output of a test logger with the mask on its handler."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    inner = logging.Formatter("%(levelname)s %(message)s")
    handler.setFormatter(SecretMask(inner, [API_KEY, BOT_TOKEN, "abc"]))
    logger = logging.getLogger("tests.unit.logging.mask")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield buffer
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def log() -> logging.Logger:
    return logging.getLogger("tests.unit.logging.mask")


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_secret_in_the_message_is_masked(stream: io.StringIO, log: logging.Logger) -> None:
    log.warning(f"calling with key {API_KEY}")
    assert stream.getvalue() == "WARNING calling with key ***\n"


def test_secret_in_the_arguments_is_masked(stream: io.StringIO, log: logging.Logger) -> None:
    log.info("GET %s?token=%s failed: %d", "https://api.example", BOT_TOKEN, 401)
    assert stream.getvalue() == "INFO GET https://api.example?token=*** failed: 401\n"


def test_secret_inside_a_larger_argument_is_masked(
    stream: io.StringIO, log: logging.Logger
) -> None:
    log.error("request: %r", {"headers": {"Authorization": f"Bearer {API_KEY}"}})
    output = stream.getvalue()
    assert API_KEY not in output
    assert "Bearer ***" in output


def test_every_secret_and_every_occurrence_is_masked(
    stream: io.StringIO, log: logging.Logger
) -> None:
    log.info("%s %s %s", API_KEY, BOT_TOKEN, API_KEY)
    assert stream.getvalue() == "INFO *** *** ***\n"


def test_short_values_are_not_treated_as_secrets(stream: io.StringIO, log: logging.Logger) -> None:
    log.info("abc is fine")
    assert stream.getvalue() == "INFO abc is fine\n"


def test_messages_without_secrets_are_unchanged(stream: io.StringIO, log: logging.Logger) -> None:
    log.info("run %s queued at position %d", "r-1", 3)
    assert stream.getvalue() == "INFO run r-1 queued at position 3\n"


def test_mask_without_secrets_leaves_records_alone() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "value %s", ("v",), None)
    assert SecretMask(logging.Formatter("%(message)s"), []).format(record) == "value v"


def test_secret_in_a_traceback_is_masked(stream: io.StringIO, log: logging.Logger) -> None:
    try:
        raise RuntimeError(f"401 for Bearer {API_KEY}")
    except RuntimeError:
        log.exception("backend call failed")
    output = stream.getvalue()
    assert "RuntimeError: 401 for Bearer ***" in output
    assert API_KEY not in output


def json_record(msg: str, *args: object, exc: bool = False) -> dict[str, object]:
    exc_info = None
    if exc:
        try:
            raise ValueError("bad value")
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("comfybot.runs", logging.ERROR, __file__, 1, msg, args, exc_info)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert isinstance(parsed, dict)
    return parsed


def test_json_format_emits_one_parseable_line_with_the_fields() -> None:
    entry = json_record("run %s failed:\n%s", "r-1", 'quote " and ünïcode')

    assert entry["level"] == "ERROR"
    assert entry["logger"] == "comfybot.runs"
    assert entry["msg"] == 'run r-1 failed:\nquote " and ünïcode'
    assert isinstance(entry["ts"], str) and entry["ts"].endswith("+00:00")


def test_json_format_includes_the_exception() -> None:
    entry = json_record("boom", exc=True)
    assert isinstance(entry["exc"], str)
    assert "ValueError: bad value" in entry["exc"]


def test_configured_json_logging_writes_masked_json_lines(
    capsys: pytest.CaptureFixture[str], restore_root: None
) -> None:
    configure_logging("INFO", "json", [API_KEY, BOT_TOKEN])
    logger = logging.getLogger("comfybot.test")
    logger.info("using key %s", API_KEY)
    logger.debug("not shown at INFO")
    logger.warning("token %s\nsecond line", BOT_TOKEN)

    lines = capsys.readouterr().err.splitlines()
    entries = [json.loads(line) for line in lines]
    assert [(e["level"], e["logger"], e["msg"]) for e in entries] == [
        ("INFO", "comfybot.test", "using key ***"),
        ("WARNING", "comfybot.test", "token ***\nsecond line"),
    ]


def test_configured_text_logging_masks_secrets(
    capsys: pytest.CaptureFixture[str], restore_root: None
) -> None:
    configure_logging("WARNING", "text", [API_KEY])
    logging.getLogger("comfybot.test").warning("key=%s", API_KEY)
    logging.getLogger("comfybot.test").info("below the level")

    err = capsys.readouterr().err
    assert err.rstrip().endswith("WARNING comfybot.test: key=***")
    assert len(err.splitlines()) == 1
