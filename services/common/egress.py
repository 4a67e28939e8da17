"""Calls to URLs that someone configured (a webhook endpoint): never to this machine or its private network
unless allowed (server-side request forgery), and to the address that was checked (no DNS rebinding).

- `url_problem(url, private=...)`: why a URL may not be registered (scheme, credentials, a literal private
  address), or None. Checked when it is registered.
- `pinned(url, private=...)`: resolve the host once, refuse it when any of its addresses is loopback,
  private, link-local, multicast or reserved, and answer the URL to call (with the checked address in it),
  the Host header and the TLS server name, so the request goes to the address that was checked."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit


class EgressRefused(ValueError):
    """The URL may not be called from here; the message says why."""


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def url_problem(url: str, *, private: bool) -> str | None:
    """Why `url` cannot be a target, or None. `private`: loopback, private networks and plain http allowed
    (a developer machine, or a target on the company's own network that an operator allowed)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in ("https", "http"):
        return "the URL must start with https://"
    if parts.scheme == "http" and not private:
        return "the URL must use https (signatures prove who sent a change, not that nobody read it)"
    if not parts.hostname:
        return "the URL names no host"
    if parts.username or parts.password:
        return "the URL may not hold a user or password (the endpoint checks the signature instead)"
    if parts.fragment:
        return "the URL may not hold a fragment (#...)"
    if port == 0:
        return "port 0 cannot be called"
    host = parts.hostname
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return _name_problem(host, private=private)
    if not private and not _public(literal):
        return f"the URL names a non-public address ({literal}): loopback, private and link-local are refused"
    return None


def _name_problem(host: str, *, private: bool) -> str | None:
    """A host name that no DNS holds, or one that names this machine."""
    if len(host) > 253:
        return "the host name is longer than 253 characters"
    try:
        host.encode("idna")
    except UnicodeError:
        return "the host name is not a valid name (a label is empty or longer than 63 characters)"
    last = host.rstrip(".").rsplit(".", 1)[-1]
    if last.isdigit() or last.lower().startswith("0x"):
        # 127.1, 2130706433, 0x7f.1: numeric forms the resolver reads as addresses, written to slip past a check
        return "the host is an address in a numeric form other than a.b.c.d: write it out, or use a name"
    if not private and host.rstrip(".").lower() in ("localhost", "localhost.localdomain"):
        return "the URL names this machine (localhost)"
    return None


@dataclass(frozen=True)
class Pinned:
    url: str  # the URL with the checked address in place of the host name
    host: str  # the Host header
    server_name: str  # the TLS server name (SNI, and the certificate's name)


async def pinned(url: str, *, private: bool) -> Pinned:
    """Resolve and check `url`'s host; `EgressRefused` when it may not be called."""
    problem = url_problem(url, private=private)
    if problem:
        raise EgressRefused(problem)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise EgressRefused(f"the host {host} cannot be resolved: {exc}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    if not addresses:
        raise EgressRefused(f"the host {host} has no address")
    if not private:
        bad = [str(a) for a in addresses if not _public(a)]
        if bad:
            raise EgressRefused(f"the host {host} resolves to a non-public address ({', '.join(bad)})")
    chosen = addresses[0]
    literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    host_header = f"{host}:{parts.port}" if parts.port else host
    return Pinned(urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), host_header, host)
