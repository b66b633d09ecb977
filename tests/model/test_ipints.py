"""Addresses and networks as integers: the fast paths answer exactly as `ipaddress` does."""

from __future__ import annotations

import ipaddress
import random

import pytest

from dcn.model.description import _check_cidr, _check_ip
from dcn.model.ipints import IpInt, NetRange, address_int, network_range


def _reference_address(value: str) -> IpInt | None:
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    return IpInt(addr.version, int(addr))


def _reference_network(value: str) -> NetRange | None:
    try:
        net = ipaddress.ip_network(value)
    except ValueError:
        return None
    return NetRange(
        net.version, int(net.network_address), int(net.broadcast_address), net.prefixlen
    )


def _reference_text(make: object, value: str) -> str | None:
    try:
        return str(make(value))  # type: ignore[operator]
    except ValueError:
        return None


def _answer(check: object, value: str) -> object:
    try:
        return check(value)  # type: ignore[operator]
    except ValueError:
        return None


def _ipv6_candidates(rng: random.Random) -> list[str]:
    """IPv6-like text: compressed or not, upper case, leading zeros, dotted tails, junk."""
    groups = ["0", "00", "0000", "1", "01", "fd00", "FD00", "dc", "ffff", "10000", "g", ""]
    tails = ["", "1.2.3.4", "%eth0", " ", "\n", ":", "::"]
    prefixes = ["0", "1", "48", "64", "064", "120", "127", "128", "129", "", "x", "+64"]
    out = []
    for _ in range(3000):
        if rng.random() < 0.5:  # a real address, written the canonical way or spelled out
            addr = ipaddress.IPv6Address(rng.getrandbits(128) >> rng.choice((0, 64, 100, 120)))
            text = str(addr) if rng.random() < 0.6 else addr.exploded
        else:
            parts = [
                rng.choice(groups) if rng.random() < 0.4 else f"{rng.getrandbits(16):x}"
                for _ in range(rng.choice((2, 3, 6, 7, 8, 9)))
            ]
            if rng.random() < 0.5:
                parts.insert(rng.randrange(len(parts) + 1), "")
            text = ":".join(parts) + rng.choice(tails)
        out.append(text)
        out.append(f"{text}/{rng.choice(prefixes)}")
        try:  # the network of that address, canonical: the form leaves are written in
            net = ipaddress.ip_network(f"{text}/{rng.choice(prefixes)}", strict=False)
            out.append(str(net))
        except ValueError:
            pass
    return out


def _ipv4_candidates(rng: random.Random) -> list[str]:
    octets = ["0", "01", "255", "256", "", "\u0661"] + [str(rng.randrange(256)) for _ in range(8)]
    out = []
    for _ in range(2000):
        addr = ".".join(rng.choice(octets) for _ in range(rng.choice((3, 4, 4, 4, 5))))
        out += [addr, f"{addr}/{rng.choice(('0', '8', '24', '28', '32', '33', '024'))}"]
    return out


@pytest.mark.parametrize("seed", range(5))
def test_integers_agree_with_ipaddress(seed: int) -> None:
    rng = random.Random(seed)
    for value in _ipv6_candidates(rng) + _ipv4_candidates(rng):
        assert _answer(address_int, value) == _reference_address(value), value
        assert _answer(network_range, value) == _reference_network(value), value


@pytest.mark.parametrize("seed", range(5))
def test_schema_checks_agree_with_ipaddress_for_ipv6(seed: int) -> None:
    for value in _ipv6_candidates(random.Random(seed)):
        assert _answer(_check_ip, value) == _reference_text(ipaddress.ip_address, value), value
        expected = _reference_text(lambda v: ipaddress.ip_network(v, strict=True), value)
        assert _answer(_check_cidr, value) == expected, value


def test_holds_is_membership_within_one_family() -> None:
    leaf = network_range("10.0.0.0/28")
    assert leaf.holds(address_int("10.0.0.15"))
    assert not leaf.holds(address_int("10.0.0.16"))
    assert not leaf.holds(IpInt(6, address_int("10.0.0.1").value))  # same number, other family
    assert network_range("fd00:dc:1:2::/64").holds(address_int("fd00:dc:1:2::1"))
    assert network_range("fd00:dc:1:2::/64").max_prefixlen == 128
