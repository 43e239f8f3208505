"""`comfybot apikey create|revoke|list`: the HTTP API's keys, administered through the database
(also while the bot runs; a revoked key stops working within seconds).

A key's user is `api:<name>`. It starts with NEW_USER_CREDITS, like anyone, or with exactly
`--credits N` (a grant in the ledger, keyed by the key's id, so it applies once).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from bot.container import Container
from core.api_keys import IssuedKey, issue_key, valid_name
from core.credits import CENTS, format_credits, parse_credits
from core.ledger import LedgerKind


class Refused(Exception):
    """A refusal to print, one line."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("apikey", help="keys of the HTTP run API")
    actions = keys.add_subparsers(required=True, dest="action", metavar="action")
    create = actions.add_parser("create", help="a new key (shown once)")
    create.add_argument("name")
    create.add_argument("--credits", help="its starting credits (instead of NEW_USER_CREDITS)")
    revoke = actions.add_parser("revoke", help="revoke the key of that name")
    revoke.add_argument("name")
    listing = actions.add_parser("list", help="every key, its state and balance")
    listing.add_argument("--json", action="store_true")


async def create_key(container: Container, name: str, credits: str | None) -> IssuedKey:
    if not valid_name(name):
        raise Refused(f"'{name}' is no key name: 1-64 of a-z, 0-9, _ . - (a letter first)")
    cents = None
    if credits is not None:
        cents = parse_credits(credits)
        if cents is None:
            raise Refused(f"--credits: '{credits}' is not an amount of credits, e.g. 50")
    now = container.clock.now()
    issued = issue_key(name, now)
    if not await container.api_keys.add(issued.key):
        raise Refused(f"a key named {name} exists already; revoke it first")
    user = issued.key.user_key
    welcome = container.settings.new_user_credits if cents is None else 0
    await container.accounts.open(user, round(welcome * CENTS), now)
    if cents:
        key = f"apikey:{issued.key.id}"
        await container.accounts.credit(user, key, LedgerKind.GRANT, cents, now, by="cli")
    return issued


async def run_command(container: Container, args: argparse.Namespace) -> int:
    try:
        if args.action == "create":
            issued = await create_key(container, args.name, args.credits)
            balance = await container.accounts.balance(issued.key.user_key)
            print(f"API key {args.name} (id {issued.key.id}), shown only now:")
            print(f"  key:            {issued.token}")
            print(f"  signing secret: {issued.key.signing_secret}")
            print(f"  user {issued.key.user_key}, {format_credits(balance.available)} credits")
            print("Use it as `Authorization: Bearer <key>`; callbacks are signed with the secret.")
            return 0
        if args.action == "revoke":
            revoked = await container.api_keys.revoke(args.name, container.clock.now())
            if revoked is None:
                raise Refused(f"no active key named {args.name}")
            print(f"revoked {revoked.name} (id {revoked.id}); it stops working within seconds")
            return 0
        return await _list(container, args.json)
    except Refused as refused:
        print(f"comfybot: {refused}", file=sys.stderr)
        return 1


async def _list(container: Container, as_json: bool) -> int:
    rows = []
    for key in await container.api_keys.all():
        balance = await container.accounts.balance(key.user_key)
        rows.append(
            {
                "name": key.name,
                "id": key.id,
                "user": key.user_key,
                "created_at": _iso(key.created_at),
                "revoked_at": _iso(key.revoked_at),
                "credits": format_credits(balance.available),
            }
        )
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        print(
            f"{row['name']:<24} {row['id']}  {row['created_at']}  {state:<30} "
            f"{row['credits']:>10} credits"
        )
    return 0


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")
