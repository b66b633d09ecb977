"""The schema's address checks: the fast IPv4 path answers exactly as `ipaddress` does."""

from __future__ import annotations

import ipaddress
import random

import pytest

from dcn.model.description import _check_cidr, _check_ip


def _reference_cidr(value: str) -> str | None:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError:
        return None


def _reference_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _answer(check: object, value: str) -> str | None:
    try:
        return check(value)  # type: ignore[operator]
    except ValueError:
        return None


def _candidates(rng: random.Random) -> list[str]:
    """IPv4-like text: edge octets, leading zeros, too many or few parts, odd prefixes."""
    octets = ["0", "1", "9", "10", "01", "00", "99", "100", "199", "200", "249", "250", "255"]
    octets += ["256", "300", "1000", "", "-1", "+1", " 1", "\u0661"]
    prefixes = ["0", "1", "8", "9", "16", "24", "28", "31", "32", "33", "01", "024", "", "x"]
    out = []
    for _ in range(4000):
        parts = [rng.choice(octets) if rng.random() < 0.5 else str(rng.randrange(256))]
        parts += [
            rng.choice(octets) if rng.random() < 0.3 else str(rng.randrange(256))
            for _ in range(rng.choice((3, 3, 3, 3, 2, 4)))
        ]
        addr = ".".join(parts)
        out.append(addr)
        out.append(f"{addr}/{rng.choice(prefixes)}")
        out.append(addr + rng.choice(("\n", " ", "/24\n", "/24/24")))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_fast_ipv4_checks_agree_with_ipaddress(seed: int) -> None:
    for value in _candidates(random.Random(seed)):
        assert _answer(_check_cidr, value) == _reference_cidr(value), value
        assert _answer(_check_ip, value) == _reference_ip(value), value


def test_canonical_networks_pass_and_host_bits_do_not() -> None:
    assert _check_cidr("10.0.203.0/28") == "10.0.203.0/28"
    assert _check_cidr("0.0.0.0/0") == "0.0.0.0/0"
    assert _check_cidr("10.0.0.7/32") == "10.0.0.7/32"
    with pytest.raises(ValueError, match="has host bits set"):
        _check_cidr("10.0.203.1/28")
    with pytest.raises(ValueError, match="is not an IP address"):
        _check_ip("10.0.0.010")
