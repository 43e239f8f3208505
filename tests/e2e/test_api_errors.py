"""The HTTP run API refusing what it must, each with the one error shape and its status: keys
(401, 403), ownership (404), bodies (400, 413, 422 with every problem in chat's words), credits
(402), the queue cap and the rate limit (429 with Retry-After), conflicts (409), callback
URLs to private addresses (422, with CALLBACK_ALLOW_PRIVATE at its default), no deployment
(503), a cancel the backend refused (502), a fault of ours (500 with a reference), messages in
the caller's language, hidden workflows. Also: cancelling, pages of runs, and the `comfybot
apikey` commands. One bot serves the module; each test has keys of its own."""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from adapters.console.session import console_words
from adapters.mongo.database import API_REQUESTS
from adapters.simulator.faults import Route
from bot import cli
from core.notices import Problem
from core.workflow import InputSpec, InputType, Workflow
from tests.e2e.api_rig import Api, api_bot, png
from tests.fakes.backend import MemoryBackend

pytestmark = pytest.mark.asyncio(loop_scope="module")

RUNS = "/api/v1/workflows/txt2img/runs"


ORPHANS = MemoryBackend(
    "orphans",
    workflows=[
        Workflow(
            name="orphan",
            command="orphan",
            inputs=(InputSpec(name="subject", type=InputType.TEXT, required=True),),
        )
    ],
)
"""Offers a workflow, and no deployment to run it on."""
HIDDEN = "workflows:\n  upscale:\n    hidden: true\n"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def api(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    tmp_path: Path = tmp_path_factory.mktemp("api_errors")
    catalog_file = tmp_path / "hiding.catalog.yaml"
    catalog_file.write_text(HIDDEN)
    async with api_bot(
        mongo_uri,
        tmp_path,
        extra_backends=[ORPHANS],
        catalog_file=catalog_file,
        max_running_per_user=1,
        max_queued_per_user=1,
        rate_limit_per_user=4,
        max_input_image_mb=0.002,
        api_max_body_kb=2,
    ) as rig:
        yield rig


def error_of(answer: Any) -> dict[str, Any]:
    assert set(answer) == {"error"}, answer
    error = dict(answer["error"])
    assert set(error) == {"code", "message", "problems"}
    return error


async def test_requests_without_a_valid_key_are_401(api: Api) -> None:
    token = await api.key("door")
    for headers in (
        {},
        {"Authorization": token},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer cbk_000000000000_" + "x" * 43},
        {"Authorization": "Bearer " + token[:-1] + ("A" if token[-1] != "A" else "B")},
    ):
        status, answer, sent = await api.call("GET", "/api/v1/workflows", headers=headers)
        assert status == 401 and error_of(answer)["code"] == "unauthorized"
        assert sent["WWW-Authenticate"].startswith("Bearer")
    assert (await api.call("GET", "/api/v1/workflows", token))[0] == 200

    await api.container.api_keys.revoke("door", api.world.clock.now())
    assert (await api.call("GET", "/api/v1/workflows", token))[0] == 200  # within seconds
    api.world.clock.advance(5)
    status, answer, _ = await api.call("GET", "/api/v1/workflows", token)
    assert status == 401 and token not in str(answer)


async def test_another_keys_runs_and_unknown_things_are_404(api: Api) -> None:
    owner, stranger = await api.key("owner"), await api.key("stranger")
    status, run, _ = await api.call("POST", RUNS, owner, body={"prompt": "mine"})
    assert status == 202
    own = f"/api/v1/runs/{run['id']}"
    for method, path in (
        ("GET", own),
        ("POST", f"{own}/cancel"),
        ("GET", f"{own}/events"),
        ("GET", f"{own}/outputs/0"),
        ("GET", "/api/v1/runs/no-such-run"),
        ("POST", "/api/v1/workflows/no-such-workflow/runs"),
        ("GET", "/api/v1/nothing-here"),
    ):
        status, answer, _ = await api.call(method, path, stranger, body={"prompt": "x"})
        assert status == 404, (method, path, answer)
        assert error_of(answer)["code"] in {"not_found", "unknown_workflow", "no_such_endpoint"}
    status, answer, _ = await api.call("POST", "/api/v1/workflows/nope/runs", stranger, body={})
    assert error_of(answer)["message"] == "There is no workflow called nope."
    status, page, _ = await api.call("GET", "/api/v1/runs", stranger)
    assert page == {"runs": [], "next": None}


async def test_every_problem_is_422_naming_its_input_in_chats_words(api: Api) -> None:
    token = await api.key("sloppy")
    body = {"prompt": "", "steps": 99, "style": "oil", "hires": [1], "bogus": 1, "cfg": "x"}
    status, answer, _ = await api.call("POST", RUNS, token, body=body)
    assert status == 422
    error = error_of(answer)
    assert error["code"] == "invalid_input"
    problems = {p["input"]: p["message"] for p in error["problems"]}
    assert set(problems) == {"prompt", "steps", "style", "hires", "bogus", "cfg"}
    words = console_words()  # the console says each the same way
    for key, name, params in (
        ("input.empty", "prompt", {}),
        ("input.between", "steps", {"min": "1", "max": "50", "value": "99"}),
        ("input.not_number", "cfg", {"value": "x"}),
    ):
        assert problems[name] == words.problem(Problem.of(key, name, **params), "txt2img")
    assert problems["style"].startswith("`style` must be one of: none, watercolor, photo, anime")
    assert problems["hires"] == "`hires` must be yes or no, not '[1]'."
    assert problems["bogus"].startswith("Unknown option `bogus`. Options of txt2img: prompt")
    assert (await api.container.runs_store.recent(5, user_key="api:sloppy")) == []

    for raw, code in ((b"{not json", "malformed_json"), (b"[1, 2]", "malformed_json")):
        status, answer, _ = await api.call(
            "POST", RUNS, token, data=raw, headers={"Content-Type": "application/json"}
        )
        assert (status, error_of(answer)["code"]) == (400, code)
    status, answer, _ = await api.call("POST", RUNS, token, body={"prompt": "x" * 3000})
    assert (status, error_of(answer)["code"]) == (413, "body_too_large")
    status, answer, _ = await api.call(
        "POST", RUNS, token, body={"prompt": "x"}, headers={"Idempotency-Key": "bad key"}
    )
    assert (status, error_of(answer)["code"]) == (400, "bad_idempotency_key")


async def test_callbacks_to_private_addresses_are_refused(api: Api) -> None:
    private = (
        "http://127.0.0.1:9/cb",
        "http://localhost/cb",
        "http://10.1.2.3/cb",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/cb",
        "http://[::ffff:192.168.0.1]/cb",
    )
    for n, url in enumerate(private):
        token = await api.key(f"ssrf-{n}")  # each its own rate limit
        body = {"prompt": "x", "callback_url": url}
        status, answer, _ = await api.call("POST", RUNS, token, body=body)
        assert status == 422, url
        (problem,) = error_of(answer)["problems"]
        assert problem["input"] == "callback_url" and "private address" in problem["message"]
    token = await api.key("ssrf-bad-urls")
    for url in ("ftp://example.com/x", "https://user:pw@example.com/", "not a url", 7):
        status, answer, _ = await api.call(
            "POST", RUNS, token, body={"prompt": "x", "callback_url": url}
        )
        assert status == 422
        assert error_of(answer)["problems"][0]["message"].startswith("`callback_url` must be")
    recorded = await api.container.runs_store.recent(100)
    assert not [run for run in recorded if run.chat.user_id.startswith("ssrf")]


async def test_no_credits_is_402_and_a_full_queue_is_429(api: Api) -> None:
    broke = await api.key("broke", credits="0")
    status, answer, _ = await api.call("POST", RUNS, broke, body={"prompt": "free?"})
    assert status == 402
    error = error_of(answer)
    assert error["code"] == "no_credits"
    assert "you have 0.00. You can ask an admin for more." in error["message"]

    busy = await api.key("busy")
    for _ in range(2):  # one running, one waiting
        assert (await api.call("POST", RUNS, busy, body={"prompt": "more"}))[0] == 202
    status, answer, headers = await api.call("POST", RUNS, busy, body={"prompt": "more"})
    assert (status, error_of(answer)["code"]) == (429, "queue_full")
    assert headers["Retry-After"] == "60"
    runs = await api.container.runs_store.recent(5, user_key="api:busy")
    (waiting,) = [run for run in runs if run.status.value == "pending"]
    status, view, _ = await api.call("GET", f"/api/v1/runs/{waiting.id}", busy)
    assert view["status"] == "pending" and view["queue_position"] == 1


async def test_past_the_rate_limit_is_429_with_retry_after(api: Api) -> None:
    token = await api.key("flood")
    body = {"prompt": "x", "steps": 0}  # refused, but counted like any command
    for _ in range(4):
        assert (await api.call("POST", RUNS, token, body=body))[0] == 422
    status, answer, headers = await api.call("POST", RUNS, token, body=body)
    assert (status, error_of(answer)["code"]) == (429, "slow_down")
    left = int(headers["Retry-After"])
    assert 1 <= left <= 60 and f"wait {left} s" in error_of(answer)["message"]
    status, answer, headers = await api.call("POST", RUNS, token, body=body)
    assert (status, error_of(answer)["code"], headers["Retry-After"]) == (
        429,
        "rate_limited",
        str(left),
    )
    assert (await api.call("GET", "/api/v1/runs", token))[0] == 200  # reads are not commands


async def test_cancel_then_409_and_a_banned_key_is_403(api: Api) -> None:
    token = await api.key("canceller")
    status, run, _ = await api.call("POST", RUNS, token, body={"prompt": "never mind"})
    status, cancelled, _ = await api.call("POST", f"/api/v1/runs/{run['id']}/cancel", token)
    assert status == 200 and cancelled["status"] == "cancelled"
    assert cancelled["error"] == "Cancelled by canceller."
    status, answer, _ = await api.call("POST", f"/api/v1/runs/{run['id']}/cancel", token)
    assert (status, error_of(answer)["code"]) == (409, "run_already_ended")

    await api.container.users.ban("api:canceller", "console:local", api.world.clock.now())
    api.world.clock.advance(5)
    status, answer, _ = await api.call("GET", f"/api/v1/runs/{run['id']}", token)
    assert (status, error_of(answer)["code"]) == (403, "banned")


async def test_runs_come_a_page_at_a_time(api: Api) -> None:
    token = await api.key("pager", credits="100")
    made = []
    for n in range(3):
        api.world.clock.advance(60)  # a rate limit window each
        status, run, _ = await api.call("POST", RUNS, token, body={"prompt": f"fox {n}"})
        assert status == 202
        made.append(run["id"])
        await api.call("POST", f"/api/v1/runs/{run['id']}/cancel", token)
    status, page, _ = await api.call("GET", "/api/v1/runs?limit=2", token)
    assert [r["id"] for r in page["runs"]] == made[:0:-1] and page["next"]
    async with api.http.get(page["next"], headers=api.auth(token)) as response:
        rest = await response.json()
    assert [r["id"] for r in rest["runs"]] == made[:1] and rest["next"] is None
    for query in ("limit=0", "limit=x", "after=!!"):
        status, answer, _ = await api.call("GET", f"/api/v1/runs?{query}", token)
        assert (status, error_of(answer)["code"]) == (400, "bad_query")


async def test_uploads_are_typed_by_their_bytes_and_size_limited(api: Api) -> None:
    token = await api.key("uploader")
    form = aiohttp.FormData()
    form.add_field("file", png(4, 4), filename="tiny.jpg", content_type="image/jpeg")
    status, upload, _ = await api.call("POST", "/api/v1/uploads", token, data=form)
    assert status == 201 and upload["mime"] == "image/png" and upload["filename"] == "tiny.png"
    form = aiohttp.FormData()
    form.add_field("file", png(4, 4) + b"\0" * 3000, filename="big.png")
    status, answer, _ = await api.call("POST", "/api/v1/uploads", token, data=form)
    assert (status, error_of(answer)["code"]) == (413, "input.image_too_large")
    assert error_of(answer)["problems"][0]["message"] == (
        "That image is too large: at most 0.002 MB."
    )
    status, answer, _ = await api.call("POST", "/api/v1/uploads", token, body={"file": "x"})
    assert status == 415


async def test_apikey_commands_create_list_and_revoke(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    async def comfybot(*argv: str) -> tuple[int, str, str]:
        args = cli._parser().parse_args(argv)
        assert isinstance(args, argparse.Namespace)
        code = await args.handler(api.world.settings, args)
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = await comfybot("apikey", "create", "ops-bot", "--credits", "12.5")
    assert code == 0
    token = next(line.split()[-1] for line in out.splitlines() if "key:" in line)
    assert token.startswith("cbk_") and "whsec_" in out and "12.50 credits" in out
    assert (await api.call("GET", "/api/v1/workflows", token))[0] == 200
    code, _, err = await comfybot("apikey", "create", "ops-bot")
    assert code == 1 and "exists already" in err
    code, out, _ = await comfybot("apikey", "list")
    line = next(line for line in out.splitlines() if line.startswith("ops-bot"))
    assert "active" in line and "12.50 credits" in line and token not in out
    code, out, _ = await comfybot("apikey", "revoke", "ops-bot")
    assert code == 0 and "revoked ops-bot" in out
    api.world.clock.advance(5)
    assert (await api.call("GET", "/api/v1/workflows", token))[0] == 401
    code, _, err = await comfybot("apikey", "revoke", "ops-bot")
    assert code == 1 and "no active key" in err
    code, _, err = await comfybot("apikey", "create", "Bad Name!")
    assert code == 1 and "no key name" in err


async def test_a_workflow_with_no_deployment_is_503(api: Api) -> None:
    token = await api.key("orphaned")
    path = "/api/v1/workflows/orphan/runs"
    status, answer, _ = await api.call("POST", path, token, body={"subject": "a fox"})
    assert status == 503
    assert error_of(answer) == {
        "code": "no_deployment",
        "message": "orphan has no deployment to run on right now.",
        "problems": [],
    }
    assert (await api.container.runs_store.recent(5, user_key="api:orphaned")) == []


async def test_a_cancel_the_backend_refuses_is_502(api: Api) -> None:
    token = await api.key("stubborn")
    status, run, _ = await api.call("POST", RUNS, token, body={"prompt": "keep going"})
    assert status == 202
    await api.settle()
    cancel = f"/api/v1/runs/{run['id']}/cancel"
    api.world.sim.faults.fail_next(Route.CANCEL, 403, count=10)
    try:
        status, answer, _ = await api.call("POST", cancel, token)
    finally:
        api.world.sim.faults.clear()
    assert (status, error_of(answer)["code"]) == (502, "cancel_refused")
    assert error_of(answer)["message"] == "The backend did not accept the cancel; try again."
    assert (await api.run(run["id"])).status.terminal is False
    status, cancelled, _ = await api.call("POST", cancel, token)
    assert status == 200 and cancelled["status"] == "cancelled"


async def test_an_unexpected_failure_is_500_with_a_reference_to_the_log(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    token = await api.key("unlucky")
    status, run, _ = await api.call("POST", RUNS, token, body={"prompt": "x"})
    assert status == 202
    assert (await api.call("POST", f"/api/v1/runs/{run['id']}/cancel", token))[0] == 200
    stored = await api.run(run["id"])
    await api.container.db[API_REQUESTS].update_one(  # a record this version cannot read
        {"_id": stored.origin}, {"$set": {"result": "garbled"}}
    )
    with caplog.at_level(logging.ERROR, logger="adapters.api.errors"):
        status, answer, _ = await api.call("GET", f"/api/v1/runs/{run['id']}", token)
    assert status == 500
    error = error_of(answer)
    assert error["code"] == "internal" and error["problems"] == []
    found = re.fullmatch(
        r"Something went wrong on our side \(ref ([0-9a-f]{8})\)\.", error["message"]
    )
    assert found is not None and "garbled" not in error["message"]
    (logged,) = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert logged.exc_info is not None


async def test_messages_come_in_the_callers_language(api: Api) -> None:
    token = await api.key("russian")
    status, answer, _ = await api.call(
        "POST",
        RUNS,
        token,
        body={"prompt": "лиса", "steps": 99},
        headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"},
    )
    assert status == 422
    (problem,) = error_of(answer)["problems"]
    assert problem == {"input": "steps", "message": "`steps` должен быть от 1 до 50, а не 99."}
    status, answer, _ = await api.call(
        "POST", "/api/v1/workflows/nope/runs", token, body={}, headers={"Accept-Language": "ru"}
    )
    assert (status, error_of(answer)["message"]) == (404, "Сценария с именем nope нет.")


async def test_hidden_workflows_are_neither_listed_nor_documented(api: Api) -> None:
    token = await api.key("looker")
    assert api.container.catalog.view.get("upscale") is not None  # known, but hidden
    status, listing, _ = await api.call("GET", "/api/v1/workflows", token)
    assert status == 200
    assert {w["name"] for w in listing["workflows"]} == {"txt2img", "img2img", "orphan"}
    status, document, _ = await api.call("GET", "/api/v1/openapi.json")
    assert status == 200
    assert not [p for p in document["paths"] if "upscale" in p]
    assert not [name for name in document["components"]["schemas"] if "upscale" in name]
    assert "/api/v1/workflows/txt2img/runs" in document["paths"]
    status, answer, _ = await api.call("POST", "/api/v1/workflows/upscale/runs", token, body={})
    assert (status, error_of(answer)["code"]) == (404, "unknown_workflow")
