"""Addresses and networks as integers, parsed once per process.

The address rules compare tens of thousands of leaves, gateways and pools of a large
fleet; an `ipaddress` object for each costs more than the comparisons. A value already
in the canonical IPv4 form the schema writes is read with a regular expression; any
other is read by `ipaddress`, so both give the same numbers.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from functools import lru_cache
from typing import NamedTuple

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: an IPv4 address or network exactly as `ipaddress` writes one (no leading zeros)
IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")
IPV4_NETWORK = re.compile(rf"{IPV4.pattern}/(3[0-2]|[12]?[0-9])")


def _ipv4_int(a: str, b: str, c: str, d: str) -> int:
    return (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)


def _ipv6_int(value: str) -> int | None:
    """`value` as an integer if it is an IPv6 address in the compressed form `ipaddress`
    writes too (read in C); None for any other text, which `ipaddress` then reads."""
    try:
        packed = socket.inet_pton(socket.AF_INET6, value)
    except (OSError, ValueError):
        return None
    if socket.inet_ntop(socket.AF_INET6, packed) != value:
        return None  # not written the one canonical way (or dotted): ipaddress decides
    return int.from_bytes(packed, "big")


class IpInt(NamedTuple):
    """An address: its family (4 or 6) and its value."""

    version: int
    value: int


class NetRange(NamedTuple):
    """A network: family, first (network) and last (broadcast) address, prefix length."""

    version: int
    first: int
    last: int
    prefixlen: int

    @property
    def max_prefixlen(self) -> int:
        return 32 if self.version == 4 else 128

    def holds(self, addr: IpInt) -> bool:
        """`addr in network`, as `ipaddress` answers it (another family: no)."""
        return addr.version == self.version and self.first <= addr.value <= self.last


@lru_cache(maxsize=65536)
def canonical_address(value: str) -> IpInt | None:
    """`value` if it is an address written exactly as `ipaddress` writes it, else None."""
    match = IPV4.fullmatch(value)
    if match is not None:
        return IpInt(4, _ipv4_int(*match.groups()))
    number = _ipv6_int(value)
    return None if number is None else IpInt(6, number)


@lru_cache(maxsize=65536)
def canonical_network(value: str) -> NetRange | None:
    """`value` if it is a network written exactly as `ipaddress` writes it, with no host
    bits set, else None. Most leaves of a fleet are, and an `ipaddress` object for each
    of the 50,000 leaves and gateways of a 5,000-site description costs about 0.1 s."""
    match = IPV4_NETWORK.fullmatch(value)
    if match is not None:
        *quad, prefix = match.groups()
        version, first, length = 4, _ipv4_int(*quad), int(prefix)
    else:
        address, slash, prefix = value.partition("/")
        if not slash or not prefix.isdigit() or str(int(prefix)) != prefix:
            return None
        number = _ipv6_int(address)
        if number is None or int(prefix) > 128:
            return None
        version, first, length = 6, number, int(prefix)
    host = (1 << ((32 if version == 4 else 128) - length)) - 1
    return None if first & host else NetRange(version, first, first + host, length)


@lru_cache(maxsize=65536)
def address_int(ip: str) -> IpInt:
    """`ip` (raises ValueError like `ipaddress.ip_address` if it is none)."""
    known = canonical_address(ip)
    if known is not None:
        return known
    addr = ipaddress.ip_address(ip)
    return IpInt(addr.version, int(addr))


@lru_cache(maxsize=65536)
def network_range(cidr: str) -> NetRange:
    """`cidr` (strict: raises ValueError like `ipaddress.ip_network` on host bits)."""
    known = canonical_network(cidr)
    if known is not None:
        return known
    net = ipaddress.ip_network(cidr)
    return NetRange(
        net.version, int(net.network_address), int(net.broadcast_address), net.prefixlen
    )
