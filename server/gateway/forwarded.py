"""The client's address behind the district's own proxies (``X-Forwarded-For``).

Several gateways run behind a load balancer (DESIGN, "Central store and
scale"): every request then comes from the balancer's address, so one client's
failed logins would slow the whole district, fair sharing would see one client,
and the access log would name the balancer. The header says who the client
was, but anyone can write it, so it is read only when the peer is a proxy the
operator named (``serve --trusted-proxy``), and then from the right: each
trusted hop appended the address it saw, and the first address that is not a
trusted proxy is the client. Whatever lies left of it was written by the
client and is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

__all__ = ["Networks", "client_address", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Networks = tuple[Network, ...]
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(values: Iterable[str]) -> Networks:
    """``10.0.0.5``, ``10.0.0.0/24``, ``fd00::/8`` as networks; ``ValueError``
    naming the value that is none of these."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network") from None
    return tuple(networks)


def _address(text: str) -> _Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: _Address, trusted: Networks) -> bool:
    return any(address in network for network in trusted)


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Networks) -> str | None:
    """The client behind ``peer``: the rightmost hop of the ``X-Forwarded-For``
    values that is not a trusted proxy, walking left only through trusted ones;
    ``peer`` itself when it is not trusted. A hop that is not an address stops
    the walk at the last trusted hop (a proxy, never a name the client chose)."""
    current = _address(peer) if peer is not None else None
    if current is None or not _trusted(current, trusted):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    while hops and _trusted(current, trusted):
        hop = _address(hops.pop())
        if hop is None:
            break
        current = hop
    return str(current)
