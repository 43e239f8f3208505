"""The Telegram adapter's small pieces: buttons, text limits, result plans, chat refs, webhook."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from telegram import Chat, Message, User
from telegram.error import InvalidToken

from adapters.telegram import TelegramAdapter
from adapters.telegram.chat_refs import chat_ref, send_target
from adapters.telegram.keyboards import CALLBACK_PATTERN, cancel_keyboard, rerun_keyboard
from adapters.telegram.limits import fit_text, split_text
from adapters.telegram.result_plan import plan_result
from adapters.telegram.webhook import SECRET_HEADER, WebhookReceiver
from adapters.telegram.wording import SYNTAX
from core.actions import Action, ActionKind
from core.chat import buttons
from core.chat.operations import CancelRun, Rerun
from core.chat.text_render import TextRenderer
from core.models import ChatRef, OutputKind, ResultFile
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_kit import MemoryKeyValueStore
from tests.fakes.telegram_objects import now_seconds

WORDS = TextRenderer(SYNTAX)


def test_callback_data_round_trips_and_rejects_junk() -> None:
    cancel_markup = cancel_keyboard("abc123", WORDS)
    rerun_markup = rerun_keyboard("abc123", WORDS)
    assert cancel_markup is not None and rerun_markup is not None
    cancel = cancel_markup.inline_keyboard[0][0]
    rerun = rerun_markup.inline_keyboard[0][0]
    assert (cancel.text, rerun.text) == ("✖ Cancel", "🔁 Rerun")
    assert buttons.decode(str(cancel.callback_data)) == Action(ActionKind.CANCEL, "abc123")
    assert buttons.decode(str(rerun.callback_data)) == Action(ActionKind.RERUN, "abc123")
    assert buttons.operation_for(Action(ActionKind.CANCEL, "abc123")) == CancelRun("abc123")
    assert buttons.operation_for(Action(ActionKind.RERUN, "abc123")) == Rerun("abc123")
    assert re.match(CALLBACK_PATTERN, str(cancel.callback_data))
    for junk in (None, "", "cancel:", "delete:abc", "rerun:a b", "rerun", "cancel:" + "x" * 49):
        assert buttons.decode(junk) is None


def test_text_is_split_at_line_ends_and_fitted() -> None:
    text = "\n".join(f"line {i:04d}" for i in range(1000))
    pieces = split_text(text)
    assert all(len(p) <= 4096 for p in pieces) and len(pieces) == 3
    assert "\n".join(pieces) == text
    assert split_text("x" * 5000) == ["x" * 4096, "x" * 904]
    assert split_text("   ") == []
    assert fit_text("abcdef", 4) == "abc…" and fit_text("abc", 4) == "abc"


def _file(
    name: str,
    size: int,
    kind: OutputKind = OutputKind.IMAGE,
    mime: str = "image/png",
    path: str | None = "/tmp/x",
) -> ResultFile:
    return ResultFile(kind=kind, filename=name, mime=mime, size=size, path=path, url=f"u/{name}")


def test_result_plan_follows_telegram_limits() -> None:
    plan = plan_result(
        (
            _file("a.png", 10),
            _file("big.png", 10_000_001),
            _file("odd.bmp", 10, mime="image/bmp"),
            _file("v.mp4", 10, OutputKind.VIDEO, "video/mp4"),
            _file("v.webm", 10, OutputKind.VIDEO, "video/webm"),
            _file("g.gif", 10, OutputKind.GIF, "image/gif"),
            _file("huge.png", 50_000_001),
            _file("remote.png", 0, path=None),
        )
    )
    assert [[f.filename for f in g] for g in plan.photo_groups] == [["a.png"]]
    assert [(how, f.filename) for how, f in plan.singles] == [
        ("document", "big.png"),
        ("document", "odd.bmp"),
        ("video", "v.mp4"),
        ("document", "v.webm"),
        ("animation", "g.gif"),
    ]
    assert [f.filename for f in plan.links] == ["huge.png", "remote.png"]
    assert plan.media_messages == 6
    many = plan_result(tuple(_file(f"{i}.png", 1) for i in range(21)))
    assert [len(g) for g in many.photo_groups] == [10, 9, 2]
    assert plan_result((_file("a.png", 1),), upload_max=0).links


def _message(**fields: Any) -> Message:
    user = User(7, "Ann", False, last_name="Lee")
    chat = Chat(-100, Chat.SUPERGROUP, is_forum=True)
    return Message(11, now_seconds(), chat, from_user=user, text="/x", **fields)  # type: ignore[arg-type]


def test_chat_ref_keeps_the_topic_only_for_topic_messages() -> None:
    topic = _message(message_thread_id=42, is_topic_message=True)
    assert topic.from_user is not None
    ref = chat_ref(topic, topic.from_user)
    assert ref == ChatRef(
        platform="telegram",
        chat_id="-100",
        user_id="7",
        thread_id="42",
        message_id="11",
        user_name="Ann Lee",
        group=True,
    )
    target = send_target(ref)
    assert target["chat_id"] == -100 and target["message_thread_id"] == 42
    assert target["reply_parameters"].message_id == 11
    assert target["reply_parameters"].allow_sending_without_reply is True
    # A reply thread in a plain group also carries message_thread_id, but is not a topic.
    plain = _message(message_thread_id=5)
    assert plain.from_user is not None
    assert chat_ref(plain, plain.from_user).thread_id is None
    assert "reply_parameters" not in send_target(ref, reply=False)


async def test_webhook_receiver_checks_the_secret_header() -> None:
    received: list[dict[str, Any]] = []
    running = True

    async def sink(body: dict[str, Any]) -> bool:
        if running:
            received.append(body)
        return running

    receiver = WebhookReceiver(sink)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    update = {"update_id": 1, "message": {"message_id": 1}}
    async with TestClient(TestServer(app)) as client:
        assert (await client.post("/hook", json=update)).status == 403  # no secret yet
        receiver.secret = "right"
        for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: "righ"}):
            assert (await client.post("/hook", json=update, headers=headers)).status == 403
        good = {SECRET_HEADER: "right"}
        assert (await client.post("/hook", data="{", headers=good)).status == 400
        assert (await client.post("/hook", json=[1], headers=good)).status == 400
        assert received == []
        assert (await client.post("/hook", json=update, headers=good)).status == 200
        assert received == [update]
        running = False
        assert (await client.post("/hook", json=update, headers=good)).status == 503


def _adapter(base_url: str, token: str = "123456:TEST-token_abc", **kw: Any) -> TelegramAdapter:
    # The chat layer is only used by update handlers, which these tests never reach.
    chat = SimpleNamespace(book=None, default_language="en", admins_on=lambda _: frozenset())
    return TelegramAdapter(token, base_url, chat, MemoryKeyValueStore(), **kw)  # type: ignore[arg-type]


def test_webhook_path_comes_from_the_webhook_url() -> None:
    assert _adapter("http://t", webhook_url="https://bot.example/tg/hook").webhook_path == (
        "/tg/hook"
    )
    bare = _adapter("http://t", webhook_url="https://bot.example")
    assert bare.webhook_path == "/webhooks/telegram"
    assert [r.path for r in bare.routes()] == ["/webhooks/telegram"]  # type: ignore[attr-defined]


async def test_a_wrong_token_fails_start_and_leaves_nothing_running() -> None:
    async with FakeTelegram() as fake:
        adapter = _adapter(fake.base_url, token="999:wrong")
        with pytest.raises(InvalidToken):
            await adapter.start()
        assert not adapter.application.running and not adapter.notifier.ready
        assert fake.calls == []  # refused as Unauthorized before any method ran
