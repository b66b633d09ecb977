"""Rules across sites (duplicates, overlapping leaves, a second control plane), checked
on small per-site summaries.

A summary holds what these rules compare (names, AZ, host names, MACs, fixed
addresses, leaves); a place is looked up only for a finding. It is plain data, so the
validation memo keeps it for a site whose file did not change, and a one-site edit of a
5,000-site fleet is checked against the others without parsing them again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from dcn.errors import Finding
from dcn.model.description import Site
from dcn.model.ipints import network_range
from dcn.model.loader import LoadedDescription
from dcn.model.nodes import hostname_format, role_hostname_list
from dcn.validate.rules import finding


@dataclass(frozen=True, slots=True)
class SiteSummary:
    """What the cross-site rules need of one site; places are looked up only to report."""

    index: int
    name: str
    az: str
    control_plane: bool
    #: per role: its name, its listed host names, or a generated stem (``%index%`` left
    #: in) and how many names it makes
    hosts: Sequence[Sequence[Any]]
    #: (MAC, host name, role, node index) of each listed node with a MAC
    macs: Sequence[Sequence[Any]]
    #: (address, host name, role, node index, network) of each fixed address
    fixed: Sequence[Sequence[Any]]
    #: (network, cidr, IP version, first and last address) of each leaf
    leaves: Sequence[Sequence[Any]]

    def host_names(self) -> Iterator[tuple[str, list[str]]]:
        """(role, its nodes' host names) of every role."""
        for role, listed, stem, size in self.hosts:
            if stem is None:
                yield role, listed
            elif stem.count("%index%") == 1:
                head, tail = stem.split("%index%")
                yield role, [f"{head}{k}{tail}" for k in range(size)]
            else:
                yield role, [stem.replace("%index%", str(k)) for k in range(size)]

    def to_json(self) -> list[Any]:
        """Compact JSON (the memo keeps one per site of a fleet): no index (the memo's
        key has it), no AZ when it is the site's name."""
        return [
            self.name,
            None if self.az == self.name else self.az,
            self.control_plane,
            self.hosts,
            self.macs,
            self.fixed,
            self.leaves,
        ]

    @classmethod
    def from_json(cls, index: int, raw: list[Any]) -> SiteSummary:
        """The summary `to_json` wrote. Its lists stay lists (read-only here): decoding a
        fleet's summaries is on the path of every re-plan. A wrong shape raises
        ValueError or TypeError and the memo entry is dropped (the memo is MAC'd, so only
        a bug gets that far)."""
        name, az, cp, hosts, macs, fixed, leaves = raw
        if not (type(name) is str and type(cp) is bool and (az is None or type(az) is str)):
            raise ValueError("memo entry of the wrong type")
        if not all(type(v) is list for v in (hosts, macs, fixed, leaves)):
            raise ValueError("memo entry of the wrong type")
        return cls(index, name, az or name, cp, hosts, macs, fixed, leaves)


def summarize(i: int, site: Site) -> SiteSummary:
    """Site `i`'s summary."""
    hosts = []
    macs, fixed = [], []
    for role, spec in site.roles.items():
        if spec.nodes:
            hosts.append((role, tuple(role_hostname_list(site.name, role, spec)), None, 0))
        else:
            stem = hostname_format(role, spec).replace("%stackname%", site.name)
            hosts.append((role, (), stem, spec.size))
        for k, node in enumerate(spec.nodes):
            if node.mac:
                macs.append((node.mac, node.hostname, role, k))
            for net, ip in node.addresses.items():
                fixed.append((ip, node.hostname, role, k, net))
    return SiteSummary(
        i,
        site.name,
        site.az,
        site.is_control_plane,
        tuple(hosts),
        tuple(macs),
        tuple(fixed),
        tuple(_leaf(net, sub.cidr) for net, sub in site.networks.items()),
    )


def _leaf(net: str, cidr: str) -> tuple[str, str, int, int, int]:
    r = network_range(cidr)
    return net, cidr, r.version, r.first, r.last


def fleetwide_findings(
    loaded: LoadedDescription, summaries: Sequence[SiteSummary]
) -> list[Finding]:
    """Duplicates across sites, overlapping leaves and a second control plane."""
    return [
        *_duplicates(loaded, summaries),
        *_overlaps(loaded, summaries),
        *_second_control_plane(loaded, summaries),
    ]


def _duplicates(loaded: LoadedDescription, summaries: Iterable[SiteSummary]) -> list[Finding]:
    """Site names (DCN101), AZs (DCN104), host names (DCN102), MACs and fixed addresses
    (DCN103): the later one is reported, naming the earlier."""
    out: list[Finding] = []
    add = out.append
    seen_site: set[str] = set()
    seen_az: dict[str, str] = {}
    seen_host: dict[str, str] = {}
    macs: dict[str, str] = {}
    fixed: dict[str, str] = {}
    for s in summaries:
        here = ("sites", s.index)
        if s.name in seen_site:
            msg = f"site {s.name!r} is declared twice"
            add(finding(loaded, "DCN101", (*here, "name"), msg, "give every site its own name"))
        seen_site.add(s.name)
        if s.az in seen_az:
            msg = f"availability zone {s.az!r} is used by {seen_az[s.az]} and {s.name}"
            add(finding(loaded, "DCN104", here, msg, "give each site its own AZ"))
        seen_az[s.az] = s.name
        for mac, host, role, k in s.macs:
            if mac in macs:
                at = (*here, "roles", role, "nodes", k, "mac")
                add(
                    finding(
                        loaded,
                        "DCN103",
                        at,
                        f"MAC {mac} is also {macs[mac]}'s",
                        "give each node its MAC",
                    )
                )
            macs[mac] = host
        for ip, host, role, k, net in s.fixed:
            if ip in fixed:
                at = (*here, "roles", role, "nodes", k, "addresses", net)
                msg = f"{ip} is also {fixed[ip]}'s"
                add(finding(loaded, "DCN103", at, msg, "give each node its own address"))
            fixed[ip] = host
        for role, names in s.host_names():
            if seen_host.keys().isdisjoint(names) and len(set(names)) == len(names):
                seen_host.update(dict.fromkeys(names, s.name))  # the usual case, in C
                continue
            for name in names:
                if name in seen_host:
                    msg = f"hostname {name} is also in site {seen_host[name]}"
                    fix = "change hostname_format or the node's hostname"
                    add(finding(loaded, "DCN102", (*here, "roles", role), msg, fix))
                seen_host[name] = s.name
    return out


def _overlaps(loaded: LoadedDescription, summaries: Iterable[SiteSummary]) -> list[Finding]:
    """No two leaves overlap (DCN201): sorted by start, each against the one before."""
    subnets = []
    for s in summaries:
        for net, _, version, first, last in s.leaves:
            subnets.append((version, first, last, ("sites", s.index, "networks", net)))
    subnets.sort()
    out = []
    for a, b in itertools.pairwise(subnets):
        if a[0] == b[0] and b[1] <= a[2]:
            msg = f"subnet overlaps {'.'.join(map(str, a[3]))}"
            out.append(finding(loaded, "DCN201", b[3], msg, "give every leaf its own subnet"))
    return out


def _second_control_plane(
    loaded: LoadedDescription, summaries: Iterable[SiteSummary]
) -> list[Finding]:
    """One control plane (DCN003): every control-plane site after the first."""
    cps = [s.index for s in summaries if s.control_plane]
    fix = "keep one control-plane site; the others are edges"
    return [
        finding(loaded, "DCN003", ("sites", i, "kind"), "a second control-plane site", fix)
        for i in cps[1:]
    ]
