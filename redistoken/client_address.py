"""The client's address: ``REMOTE_ADDR``, or a forwarding header read through
trusted proxies only.

A header such as ``X-Forwarded-For`` is text the client wrote, except for the
entries that proxies we trust appended to it. So the header is read right to
left, starting from ``REMOTE_ADDR``: each hop that is a trusted proxy
(``TRUSTED_PROXIES`` networks, or one of the ``TRUSTED_PROXY_COUNT`` nearest
hops) vouches for the hop before it; the first hop that is not trusted is the
client. With no trusted proxy configured (the default) the header is ignored.

The result is always a canonical address from :mod:`ipaddress` (or "" when
even ``REMOTE_ADDR`` is not one): never free text from a header.
"""

from __future__ import annotations

import ipaddress
from functools import cache
from typing import Any

from .settings import token_settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The headers a proxy may append to, as named in ``FORWARDED_HEADER``.
HEADERS = {"X-Forwarded-For": "HTTP_X_FORWARDED_FOR", "Forwarded": "HTTP_FORWARDED"}

#: A forwarding header longer than this is not read (a chain of 40 proxies fits).
MAX_HEADER_LENGTH = 2048


def parse_address(text: str) -> Address | None:
    """An address from one hop of a header: ``1.2.3.4``, ``1.2.3.4:80``,
    ``[2001:db8::1]:443``, ``2001:db8::1``; ``None`` for anything else
    (``unknown``, an RFC 7239 obfuscated name, garbage). IPv4-mapped IPv6
    addresses become IPv4; a zone (``%eth0``) is dropped."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port
    text = text.partition("%")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _forwarded_for(value: str) -> list[str]:
    """The ``for=`` value of each element of an RFC 7239 ``Forwarded`` header
    ("" for an element without one)."""
    hops = []
    for element in value.split(","):
        found = ""
        for pair in element.split(";"):
            name, _, item = pair.partition("=")
            if name.strip().lower() == "for":
                found = item
        hops.append(found)
    return hops


def _hops(meta: dict[str, Any], header: str) -> list[str]:
    value = meta.get(HEADERS[header], "")
    if not isinstance(value, str) or not value or len(value) > MAX_HEADER_LENGTH:
        return []
    return _forwarded_for(value) if header == "Forwarded" else value.split(",")


@cache
def _networks(configured: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in configured)


def trusted_networks() -> tuple[Network, ...]:
    return _networks(tuple(token_settings.TRUSTED_PROXIES))


def client_address(request: Any) -> str:
    """The client's address for ``request`` (Django's or DRF's), as text."""
    meta = request.META
    remote = parse_address(str(meta.get("REMOTE_ADDR") or ""))
    if remote is None:
        return ""
    count, networks = token_settings.TRUSTED_PROXY_COUNT, trusted_networks()
    if not count and not networks:
        return str(remote)
    chain = _hops(meta, token_settings.FORWARDED_HEADER)
    address, depth = remote, 0
    while True:
        trusted = depth < count or any(address in network for network in networks)
        if not trusted or not chain:
            return str(address)
        previous = parse_address(chain.pop())
        if previous is None:
            return str(address)  # a trusted proxy wrote no address: the proxy is all we know
        address, depth = previous, depth + 1


def problems() -> list[str]:
    """What is wrong with the proxy settings, for the system checks."""
    s = token_settings
    errors = []
    count = s.TRUSTED_PROXY_COUNT
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        errors.append("TRUSTED_PROXY_COUNT must be a non-negative integer.")
    if isinstance(s.TRUSTED_PROXIES, str) or not isinstance(s.TRUSTED_PROXIES, (list, tuple)):
        errors.append('TRUSTED_PROXIES must be a list of networks, such as ["10.0.0.0/8"].')
    else:
        for network in s.TRUSTED_PROXIES:
            try:
                ipaddress.ip_network(network, strict=False)
            except (TypeError, ValueError):
                errors.append(f"TRUSTED_PROXIES: {network!r} is not a network such as '10.0.0.0/8'.")
    if s.FORWARDED_HEADER not in HEADERS:
        errors.append("FORWARDED_HEADER must be 'X-Forwarded-For' or 'Forwarded'.")
    return errors
