"""Where callbacks may go: http(s) URLs whose host resolves only to public addresses, unless
CALLBACK_ALLOW_PRIVATE is set (a local receiver in development).

A client-given URL is a request the bot makes on the client's behalf, so it must not reach the
bot's own network (https://owasp.org/www-community/attacks/Server_Side_Request_Forgery). The
check runs when the run is asked for (a clear 422) and again on every send: the callback's
HTTP session resolves names through `PublicResolver`, which refuses a name with any
non-public address, so a name that changes its answer later (DNS rebinding) is caught at the
connection itself. Literal IP hosts skip resolvers in aiohttp, so `check_host` is called for
them before each send.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import yarl
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

MAX_URL_CHARS = 2048
RESOLVE_TIMEOUT_S = 5.0


class PrivateAddress(OSError):
    """A callback host that is, or resolves to, an address the bot must not call."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to a non-public address")
        self.host = host
        self.address = address


def is_public(address: str) -> bool:
    """Globally routable unicast (https://www.iana.org/assignments/iana-ipv4-special-registry),
    IPv4-mapped IPv6 judged as the IPv4 address it carries."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def malformed(url: str) -> bool:
    """Not an absolute http(s) URL with a host, or one carrying credentials."""
    if len(url) > MAX_URL_CHARS:
        return True
    try:
        parsed = yarl.URL(url)
    except ValueError:
        return True
    return (
        parsed.scheme not in ("http", "https")
        or not parsed.host
        or parsed.user is not None
        or parsed.password is not None
    )


def literal_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def check_addresses(host: str, addresses: list[str]) -> None:
    for address in addresses:
        if not is_public(address):
            raise PrivateAddress(host, address)


async def check_host(host: str, port: int, resolver: AbstractResolver) -> None:
    """Raises PrivateAddress unless every address of `host` is public; OSError (a timeout too)
    when it does not resolve."""
    if literal_ip(host):
        check_addresses(host, [host])
        return
    async with asyncio.timeout(RESOLVE_TIMEOUT_S):
        found = await resolver.resolve(host, port, socket.AF_UNSPEC)
    check_addresses(host, [entry["host"] for entry in found])


class PublicResolver(AbstractResolver):
    """Resolves like aiohttp's default, and refuses any name with a non-public address."""

    def __init__(self, allow_private: bool = False) -> None:
        self._inner = ThreadedResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if not self._allow_private:
            check_addresses(host, [entry["host"] for entry in found])
        return found

    async def close(self) -> None:
        await self._inner.close()
