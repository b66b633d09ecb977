"""Values of an imported export are untrusted: confine every one before it reaches a file.

An export's endpoints, node names, addresses and hosts lines are rendered into the
configuration files and /etc/hosts of every edge node. A line break could inject a
setting or a host entry, a secret placeholder could make dcn fill in a secret the
edge should not get. So each value is checked for its kind (IP address, RFC 1123
host name, port, protocol) and none may hold a control character or a placeholder.
Messages name the file and key, never a value (it may be a secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dcn.errors import ExportError
from dcn.export.document import ALL_NODES, ENDPOINT_MAP, GLOBAL_CONFIG, HOSTS
from dcn.lines import unsafe_char
from dcn.netnames import is_hostname, is_ip
from dcn.plan.types import SECRET_PREFIX

PROTOCOLS = frozenset({"http", "https", "mysql+pymysql"})
_FIX = "re-create the export with the command that produced it, from a trusted control plane"


def _error(what: str, where: str) -> ExportError:
    return ExportError(f"{where}: {what}", hint=_FIX)


def _strings(value: Any, where: str) -> None:
    """No control character and no secret placeholder in any key or string under `value`."""
    stack = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            if unsafe_char(item) is not None:
                raise _error("holds a control character or line break", at)
            if SECRET_PREFIX in item:
                raise _error(f"holds dcn's secret placeholder text {SECRET_PREFIX!r}", at)
        elif isinstance(item, Mapping):
            for key, sub in item.items():
                stack.append((str(key), f"{at} key"))
                stack.append((sub, f"{at}.{key}"))
        elif isinstance(item, list):
            stack.extend((sub, f"{at}[{i}]") for i, sub in enumerate(item))


def _hosts(value: Any, where: str) -> None:
    lines = value.splitlines() if isinstance(value, str) else value
    if not isinstance(lines, list):
        return  # the reader says what shape it needs
    for index, line in enumerate(lines):
        at = f"{where}[{index}]"
        if not isinstance(line, str) or not line.strip():
            continue
        _strings(line, at)
        ip, *names = line.split()
        if not is_ip(ip) or not names or not all(is_hostname(n) for n in names):
            raise _error("must be '<ip address> <host name>...' with RFC 1123 names", at)


def _endpoints(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        return
    for name, entry in value.items():
        if not isinstance(entry, Mapping):
            continue
        at = f"{where}.{name}"
        protocol = entry.get("protocol")
        if protocol is not None and str(protocol) not in PROTOCOLS:
            raise _error(f"protocol must be one of {', '.join(sorted(PROTOCOLS))}", at)
        for key in ("host", "host_nobrackets"):
            host = entry.get(key)
            if host is None:
                continue
            bare = str(host)
            if key == "host" and bare.startswith("[") and bare.endswith("]"):
                bare = bare[1:-1]
            if not (is_ip(bare) or is_hostname(bare)):
                raise _error(f"{key} must be an IP address or an RFC 1123 host name", at)
        port = entry.get("port")
        if port is not None:
            text = str(port)
            if isinstance(port, bool) or not text.isdigit() or not 1 <= int(text) <= 65535:
                raise _error("port must be a whole number from 1 to 65535", at)
        for key in ("uri", "uri_no_suffix"):
            uri = entry.get(key)
            if uri is not None and not _is_url(str(uri)):
                raise _error(
                    f"{key} must be a URL of {', '.join(sorted(PROTOCOLS))} with an IP address "
                    "or an RFC 1123 host name",
                    at,
                )


def _is_url(text: str) -> bool:
    """An http(s) or mysql URL whose host is an address or a host name: what goes in a
    config file's ``auth_url`` or ``endpoint_override``."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    host = parts.hostname or ""
    return parts.scheme in PROTOCOLS and (is_ip(host) or is_hostname(host))


#: AllNodesConfig / GlobalConfig keys (by suffix) whose values must be of one kind
_IP_KEYS = ("_node_ips", "_bootstrap_node_ip", "_virtual_ip", "_vip")
_NAME_KEYS = ("_node_names", "_bootstrap_node_name", "cloud_domain", "stack_name")


def _config(value: Any, where: str) -> None:
    """Node names, addresses, VIPs and cloud names in AllNodesConfig/GlobalConfig."""
    if not isinstance(value, Mapping):
        return
    for key, item in value.items():
        key = str(key)
        items = [i for i in (item if isinstance(item, list) else [item]) if i not in (None, "")]
        if key.endswith(_IP_KEYS):
            check, what = is_ip, "IP addresses"
        elif key.endswith(_NAME_KEYS) or key.startswith("cloud_name"):
            check, what = is_hostname, "RFC 1123 host names"
        else:
            continue
        if not all(isinstance(i, str) and check(i) for i in items):
            raise _error(f"must hold {what} only", f"{where}.{key}")


def check_values(params: Mapping[str, Any], origin: Mapping[str, Path]) -> None:
    """Refuse an export whose values could inject into rendered files (ExportError)."""
    for key, value in params.items():
        where = f"{key} ({origin.get(key, '?')})"
        if key == HOSTS:
            _hosts(value, where)
            continue
        _strings(value, where)
        if key == ENDPOINT_MAP:
            _endpoints(value, where)
        elif key in (ALL_NODES, GLOBAL_CONFIG):
            _config(value, where)
