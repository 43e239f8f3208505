"""The HTTP API's pure pieces and its callback guard: keys, body fingerprints, input schemas,
which addresses are public, and a callback refused at send time when its host is private (a
real local receiver that must never be called)."""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema
import pytest
from aiohttp import web

from adapters.api.address_guard import PrivateAddress, PublicResolver, is_public, malformed
from adapters.api.callbacks import CallbackSender, signature
from adapters.api.schemas import workflow_schema
from core.api_keys import issue_key, token_id, valid_name
from core.api_requests import fingerprint
from core.errors import SendFailed
from core.workflow import InputSpec, InputType, Workflow

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_key_is_found_by_its_id_and_proven_by_its_secret() -> None:
    issued = issue_key("ops", NOW)
    assert token_id(issued.token) == issued.key.id
    assert issued.key.proves(issued.token)
    assert not issued.key.proves(issued.token[:-1] + "x")
    assert issued.token not in issued.key.model_dump_json()  # only its hash is kept
    assert issued.key.user_key == "api:ops"
    assert token_id("cbk_nothex00000_" + "a" * 43) is None
    assert [valid_name(n) for n in ("ops", "a.b-c_1", "Ops", "-x", "", "x" * 65)] == [
        True,
        True,
        False,
        False,
        False,
        False,
    ]


def test_equal_json_has_one_fingerprint() -> None:
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 1.5})
    assert signature("s", 10, b"{}") == signature("s", 10, b"{}") != signature("s", 11, b"{}")


def test_each_input_becomes_a_json_schema_the_engine_agrees_with() -> None:
    workflow = Workflow(
        name="w",
        command="w",
        inputs=(
            InputSpec(name="prompt", type=InputType.TEXT, required=True, max_length=50),
            InputSpec(name="seed", type=InputType.INTEGER, min=0, max=10),
            InputSpec(name="steps", type=InputType.INTEGER, min=1, max=50, default=20),
            InputSpec(name="cfg", type=InputType.NUMBER, min=1, max=15),
            InputSpec(name="hires", type=InputType.BOOLEAN),
            InputSpec(name="style", type=InputType.CHOICE, choices=("a", "b")),
            InputSpec(name="image", type=InputType.IMAGE),
        ),
    )
    schema = workflow_schema(workflow, max_prompt_chars=2000)
    check = jsonschema.Draft202012Validator(schema)
    assert schema["required"] == ["prompt"]
    assert schema["properties"]["prompt"]["maxLength"] == 50
    good = {
        "prompt": "fox",
        "seed": -1,
        "steps": 5,
        "cfg": 2.5,
        "hires": True,
        "style": "a",
        "image": "upl_0123abcd",
        "callback_url": "https://example.com/cb",
    }
    check.validate(good)
    check.validate({**good, "seed": 10, "image": "https://example.com/x.png"})
    for bad in (
        {"steps": 51},
        {"seed": 11},
        {"style": "c"},
        {"image": "http://example.com/x.png"},
        {"prompt": ""},
        {"extra": 1},
    ):
        with pytest.raises(jsonschema.ValidationError):
            check.validate({**good, **bad})


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:8.8.8.8", True),
    ],
)
def test_only_globally_routable_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


def test_callback_urls_must_be_plain_http_or_https() -> None:
    assert not malformed("https://example.com/hook?x=1")
    for url in ("ftp://example.com", "https://u:p@example.com", "example.com", "http://", ""):
        assert malformed(url), url


async def test_a_private_callback_is_refused_at_send_time() -> None:
    calls: list[str] = []

    async def receive(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/cb", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    guarded = CallbackSender(allow_private=False, timeout_s=5)
    open_ = CallbackSender(allow_private=True, timeout_s=5)
    try:
        for host in ("127.0.0.1", "localhost"):
            with pytest.raises(SendFailed) as refused:
                await guarded.send(f"http://{host}:{port}/cb", b"{}", "secret", "run.x.result")
            assert refused.value.permanent
        with pytest.raises(PrivateAddress):
            await PublicResolver().resolve("localhost", port)
        assert calls == []
        await open_.send(f"http://localhost:{port}/cb", b"{}", "secret", "run.x.result")
        assert calls == ["/cb"]
    finally:
        await guarded.close()
        await open_.close()
        await runner.cleanup()
