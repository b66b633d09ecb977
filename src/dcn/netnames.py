"""Addresses and DNS names as dcn accepts them from others (exports, `ansible_host`).

One rule in one place: an IP address, or an RFC 1123 name of letters, digits and
'-' labels (1-63 characters, no '-' first or last), at most 253 characters, an
optional trailing dot. Host names dcn itself generates follow the stricter rule of
`dcn.validate.names` (lower case, one label).
"""

from __future__ import annotations

import ipaddress
import re

_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
FQDN_MAX = 253


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_hostname(text: str) -> bool:
    """An RFC 1123 host name (labels of letters, digits and '-', at most 253 characters)."""
    return len(text) <= FQDN_MAX and _HOSTNAME.fullmatch(text) is not None
