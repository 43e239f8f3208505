"""Per-run webhook URLs carry an HMAC token; only the right token for the right run passes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from core.webhook_tokens import WebhookSigner

WEBHOOK_PATH = "/webhooks/comfydeploy"

SECRET = "s3cret-webhook-key-0123456789"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_url_points_at_the_webhook_route_with_run_and_token() -> None:
    signer = WebhookSigner(SECRET, "https://bot.example.com/")
    url = signer.url_for(WEBHOOK_PATH, "run-42")

    assert url is not None
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "bot.example.com", WEBHOOK_PATH)
    query = query_of(url)
    assert query["run"] == "run-42"
    assert signer.verify("run-42", query["token"])


def test_base_url_with_a_path_prefix_is_kept() -> None:
    url = WebhookSigner(SECRET, "https://example.com/comfybot").url_for(WEBHOOK_PATH, "r1")
    assert url is not None
    assert urlsplit(url).path == "/comfybot" + WEBHOOK_PATH


def test_run_ids_needing_escaping_round_trip() -> None:
    signer = WebhookSigner(SECRET, "https://bot.example.com")
    url = signer.url_for(WEBHOOK_PATH, "a&b=c d")
    assert url is not None
    query = query_of(url)
    assert query["run"] == "a&b=c d"
    assert signer.verify(query["run"], query["token"])


def test_tokens_differ_per_run_and_per_secret() -> None:
    signer = WebhookSigner(SECRET, None)
    assert signer.token("r1") != signer.token("r2")
    assert signer.token("r1") != WebhookSigner("another-secret-value", None).token("r1")
    assert signer.token("r1") == WebhookSigner(SECRET, "https://x.example").token("r1")


def test_token_of_another_run_is_rejected() -> None:
    signer = WebhookSigner(SECRET, "https://bot.example.com")
    assert not signer.verify("run-2", signer.token("run-1"))


def flip_last(token: str) -> str:
    return token[:-1] + ("0" if token[-1] != "0" else "1")


@pytest.mark.parametrize(
    "tamper",
    [flip_last, lambda t: t[:-1], lambda t: t + "0", lambda t: t.upper(), lambda t: "", str.strip],
    ids=["changed", "shortened", "lengthened", "upper-cased", "empty", "unchanged-control"],
)
def test_tampered_tokens_are_rejected(tamper: object) -> None:
    signer = WebhookSigner(SECRET, "https://bot.example.com")
    good = signer.token("run-1")
    changed = tamper(good)  # type: ignore[operator]

    assert signer.verify("run-1", changed) is (changed == good)


def test_token_from_another_secret_is_rejected() -> None:
    other = WebhookSigner("a-different-secret", "https://bot.example.com")
    assert not WebhookSigner(SECRET, None).verify("run-1", other.token("run-1"))


@pytest.mark.parametrize("base", [None, ""])
def test_without_a_public_url_webhooks_are_disabled(base: str | None) -> None:
    signer = WebhookSigner(SECRET, base)
    assert signer.enabled is False
    assert signer.url_for(WEBHOOK_PATH, "run-1") is None


def test_each_backend_has_its_own_path_and_one_without_webhooks_gets_no_url() -> None:
    signer = WebhookSigner(SECRET, "https://bot.example.com")
    url = signer.url_for("/webhooks/runcomfy", "r1")
    assert url is not None and urlsplit(url).path == "/webhooks/runcomfy"
    assert signer.url_for(None, "r1") is None


def test_with_a_public_url_webhooks_are_enabled() -> None:
    assert WebhookSigner(SECRET, "https://bot.example.com").enabled is True


def test_non_ascii_token_is_refused_not_crashed() -> None:
    signer = WebhookSigner("s3cret-webhook-key", "https://bot.example.com")
    assert signer.verify("run-1", "é" * 32) is False
