"""Names that end up in rendered files and paths: host names, domains, AZs, every string.

A host name becomes a directory (``dcn plan --out DIR/<site>/<hostname>``), a hosts
entry, a RabbitMQ node name and nova's service host; a domain and DNS labels go into
every /etc/hosts; an AZ into nova's aggregates. Each is checked here, once per
description (generated host names once per role, not once per node: they differ
only in their index digits).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from dcn.errors import Finding
from dcn.lines import describe, unsafe_char
from dcn.model.description import Deployment, Site
from dcn.model.loader import LoadedDescription
from dcn.model.nodes import hostname_for, hostname_format
from dcn.netnames import FQDN_MAX, is_hostname, is_ip
from dcn.plan.types import SECRET_PREFIX
from dcn.validate.rules import finding

_LABEL_CHARS = re.compile(r"[^a-z0-9-]")
#: an RFC 1123 label, and nova's limit for the AZ name it stores
LABEL_MAX, AZ_MAX = 63, 255


def label_problem(name: str) -> str | None:
    """Why `name` is not an RFC 1123 label in lower case, or None when it is one."""
    if not name:
        return "is empty"
    if "/" in name or ".." in name:
        return "has '/' or '..': as a directory name it would leave its folder"
    if len(name) > LABEL_MAX:
        return f"is {len(name)} characters long (at most {LABEL_MAX})"
    if "_" in name:
        return "has '_', which is not allowed in host names"
    if name != name.lower():
        return "has upper-case letters (host names are lower case here)"
    bad = _LABEL_CHARS.search(name)
    if bad:
        return f"has {bad.group()!r} (only a-z, 0-9 and '-')"
    if name[0] == "-" or name[-1] == "-":
        return "starts or ends with '-'"
    return None


def host_suffix(dep: Deployment) -> int:
    """What a host name gets appended in its longest hosts entry: ``.<label>.<domain>``."""
    longest_label = max((len(dep.dns_label(n)) + 1 for n in dep.networks), default=0)
    return longest_label + 1 + len(dep.domain)


def site_name_findings(loaded: LoadedDescription, i: int, site: Site, suffix: int) -> list[Finding]:
    """One site's AZ (DCN106), host names and SSH targets (DCN107)."""
    here = ("sites", i)
    out = _az(loaded, site.availability_zone, (*here, "availability_zone"))
    for role, spec in site.roles.items():
        for k, node in enumerate(spec.nodes):
            problem = _host_problem(node.hostname, suffix)
            if problem:
                at = (*here, "roles", role, "nodes", k, "hostname")
                msg = f"host name {node.hostname!r} {problem}"
                fix = "use lower-case letters, digits and '-', 1-63 characters"
                out.append(finding(loaded, "DCN107", at, msg, fix))
            if node.ansible_host is not None and not _ssh_target_ok(node.ansible_host):
                at = (*here, "roles", role, "nodes", k, "ansible_host")
                msg = (
                    f"ansible_host {node.ansible_host!r} is neither an IP address nor a "
                    "host name (SSH would read a leading '-' as an option)"
                )
                fix = "give the node's IP address or its DNS name (letters, digits, '-', '.')"
                out.append(finding(loaded, "DCN107", at, msg, fix))
        if spec.size > len(spec.nodes):
            out.extend(_generated(loaded, site.name, role, spec, here, suffix))
    return out


def _ssh_target_ok(target: str) -> bool:
    """What SSH may be pointed at: an IP address or a DNS name (never an option)."""
    return is_ip(target) or is_hostname(target)


def _host_problem(name: str, suffix: int) -> str | None:
    if unsafe_char(name, tab=False):
        return None  # DCN109 reports it
    problem = label_problem(name)
    if problem is None and len(name) + suffix > FQDN_MAX:
        problem = f"makes a fully qualified name longer than {FQDN_MAX} with the domain"
    return problem


def _generated(
    loaded: LoadedDescription, site: str, role: str, spec: Any, here: tuple, suffix: int
) -> list[Finding]:
    """A role's generated names, checked on the first and the longest (the last index)."""
    fmt = hostname_format(role, spec)
    for index in (0, spec.size - 1):
        name = hostname_for(fmt, site, index)
        problem = _host_problem(name, suffix)
        if problem:
            at = (*here, "roles", role, "hostname_format" if spec.hostname_format else "count")
            return [
                finding(
                    loaded,
                    "DCN107",
                    at,
                    f"hostname_format {fmt!r} makes host name {name!r}, which {problem}",
                    "use lower-case letters, digits, '-', %stackname% and %index% "
                    "(a shorter site name or format if it is too long)",
                )
            ]
    return []


def domain_findings(loaded: LoadedDescription, dep: Deployment) -> list[Finding]:
    """The domain and every network's DNS label are RFC 1123 (DCN108)."""
    out = []
    names = [(dep.domain, ("domain",), "domain")]
    for net, defn in dep.networks.items():
        if defn.dns_label is not None:
            names.append((defn.dns_label, ("networks", net, "dns_label"), "dns_label"))
    for value, at, what in names:
        if unsafe_char(value, tab=False):
            continue  # DCN109 reports it
        labels = value.split(".") if what == "domain" else [value]
        problem = next((p for p in map(label_problem, labels) if p), None)
        if problem is None and len(value) > FQDN_MAX:
            problem = f"is {len(value)} characters long (at most {FQDN_MAX})"
        if problem:
            msg = f"{what} {value!r}: " + (
                f"a label {problem}" if what == "domain" and len(labels) > 1 else problem
            )
            fix = "use dot-separated labels of a-z, 0-9 and '-' (like example.com)"
            out.append(finding(loaded, "DCN108", at, msg, fix))
    return out


def _az(loaded: LoadedDescription, az: str | None, at: tuple) -> list[Finding]:
    """An AZ name nova accepts (DCN106): it splits ``az:host`` on ':'."""
    if az is None or unsafe_char(az, tab=False):
        return []  # the site name (valid), or DCN109
    problem = None
    if not az.strip():
        problem = "is empty or only spaces"
    elif ":" in az:
        problem = "has ':', which nova reads as 'zone:host' when booting"
    elif az != az.strip():
        problem = "starts or ends with a space (nova refuses it)"
    elif len(az) > AZ_MAX:
        problem = f"is {len(az)} characters long (nova keeps at most {AZ_MAX})"
    if problem is None:
        return []
    msg = f"availability zone {az!r} {problem}"
    fix = "use a short name without ':' (or leave it out: the site name is used)"
    return [finding(loaded, "DCN106", at, msg, fix)]


def _strings(value: Any, path: tuple) -> Iterator[tuple[tuple, str]]:
    """Every string in loaded data, keys too, with its path (a key's path ends with it)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield (*path, key), key
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for k, item in enumerate(value):
            yield from _strings(item, (*path, k))


def _is_override_value(path: tuple) -> bool:
    """sites[i].config_overrides.FILE.SECTION.OPTION (a list item below it too)."""
    return len(path) >= 6 and path[2] == "config_overrides"


def _all_plain(data: Any) -> bool:
    """Whether no string in `data` (keys too) can be flagged, decided in C: JSON escapes
    '"', '\\' and every control character, so a string that is not printable or holds
    one of those leaves a backslash or an unprintable character in the dump, and
    one holding the placeholder leaves the placeholder. Data JSON cannot write: no."""
    try:
        text = json.dumps(data, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return False
    return "\\" not in text and text.isprintable() and SECRET_PREFIX not in text


def string_findings(loaded: LoadedDescription, data: Any, path: tuple) -> list[Finding]:
    """No string in `data` (found at `path`), keys too, holds a control character or
    line break (DCN109), or dcn's secret placeholder (DCN110). Walks the loaded data,
    so new fields are covered too."""
    if _all_plain(data):
        return []
    out = []
    for at, text in _strings(data, path):
        if text.isprintable() and SECRET_PREFIX not in text:
            continue  # the common case, one C call
        bad = unsafe_char(text, tab=_is_override_value(at))
        if bad is not None:
            out.append(
                finding(
                    loaded,
                    "DCN109",
                    at,
                    f"{describe(bad)} in {text[:40]!r}: written into a file it would start "
                    "a new line (another setting, section or hosts entry)",
                    "remove the character; one value is one line",
                )
            )
        if SECRET_PREFIX in text:
            out.append(
                finding(
                    loaded,
                    "DCN110",
                    at,
                    f"{SECRET_PREFIX!r} is dcn's secret placeholder: a file holding it receives "
                    "that secret's value on deploy",
                    "remove it; secrets reach only the files of the services that need them",
                )
            )
    return out
