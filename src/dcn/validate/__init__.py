"""Validation of a loaded description: schema findings, then semantic rules.

Each finding has a stable rule id, the file, line and field, what is wrong and a fix.
"""

from __future__ import annotations

import difflib
import ipaddress
import itertools
from dataclasses import dataclass, field

from pydantic import ValidationError

from dcn.errors import Finding, Severity
from dcn.model.description import Deployment, Pool, parse
from dcn.model.loader import LoadedDescription
from dcn.model.nodes import expand
from dcn.model.roles import ROLES
from dcn.network import leaf_capacity, parsed_address, parsed_network

E, W = Severity.ERROR, Severity.WARNING
RULES: dict[str, tuple[str, Severity, str]] = {
    "DCN001": ("schema", E, "the description does not match the schema"),
    "DCN002": ("no-control-plane", E, "no control-plane site and no control_plane_export"),
    "DCN003": ("control-plane-twice", E, "more than one control-plane site"),
    "DCN004": ("unknown-role", E, "a role that is not in the catalog or not for this site kind"),
    "DCN101": ("site-duplicate", E, "two sites with the same name"),
    "DCN102": ("hostname-duplicate", E, "two nodes with the same hostname"),
    "DCN104": ("az-shared", E, "an availability zone shared by two sites"),
    "DCN201": ("subnet-overlap", E, "two leaf subnets overlap"),
    "DCN005": ("undeclared-network", E, "a site subnet of a network not declared on top"),
    "DCN006": ("missing-subnet", E, "a role's network has no subnet at the site"),
    "DCN202": ("subnet-too-small", E, "a leaf has fewer free addresses than it needs"),
    "DCN203": ("leaf-no-route", E, "an edge leaf has no route to the control plane's leaf"),
    "DCN007": ("ha-size", E, "ha_size at an edge, or not equal to the Controller count"),
    "DCN103": ("node-duplicate", E, "the same MAC or fixed address on two nodes"),
    "DCN205": ("ip-version", E, "a leaf whose address family differs from its network's"),
    "DCN206": ("gateway-outside", E, "a gateway or allocation pool outside its subnet"),
    "DCN207": ("fixed-outside", E, "a fixed address outside its leaf subnet"),
    "DCN208": ("slaac-not-64", E, "a SLAAC leaf that is not a /64"),
    "DCN209": ("outside-supernet", W, "a leaf subnet outside its network's supernet"),
    "DCN210": ("pool-reversed", E, "an allocation pool whose start is after its end"),
    "DCN204": ("ipv6-provisioning", E, "IPv6 on the provisioning network"),
    "DCN301": ("single-controller", W, "a control plane with one controller"),
    "DCN401": ("edge-tunnelling", W, "tunnelling SDN at an edge site"),
    "DCN402": ("metadata-unreachable", E, "no config drive and no route to metadata"),
    "DCN403": ("edge-storage", E, "non-ephemeral instance storage at an edge"),
    "DCN404": ("dvr-unsupported", E, "DVR with an SDN mechanism that has no DVR"),
    "DCN501": ("liveness-flapping", W, "service_down_time under twice report_interval"),
}
#: SDN mechanisms with distributed virtual routing (``provider`` has no tenant routers)
DVR_MECHANISMS = ("ovn", "openvswitch")


@dataclass
class ValidationResult:
    deployment: Deployment | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors


def _finding(loaded: LoadedDescription, rule: str, path: tuple, message: str, fix: str) -> Finding:
    name, severity, _ = RULES[rule]
    return Finding(rule, name, severity, message, fix, loaded.smap.locate(path))


def _schema(loaded: LoadedDescription, exc: ValidationError) -> list[Finding]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            fields = _fields_at(loc[:-1])
            close = difflib.get_close_matches(key, fields, n=1)
            msg = f"unknown field {key!r}" + (f"; did you mean {close[0]!r}?" if close else "")
            fix = f"remove or rename {key!r}" + (f" (known: {', '.join(fields)})" if fields else "")
        elif kind == "missing":
            msg = f"missing required field {loc[-1]!r}"
            fix = f"add {loc[-1]!r}"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            fix = "correct the value"
        out.append(_finding(loaded, "DCN001", loc, msg, fix))
    return out


def _fields_at(loc: tuple) -> list[str]:
    from dcn.model import description as d

    model: type = d.Deployment
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if info is None:
            break
        ann = str(info.annotation)
        for candidate in ("Site", "RoleSpec", "Subnet", "Network", "Sdn", "InstanceMetadata"):
            if f"{candidate}" in ann:
                model = getattr(d, candidate)
                break
    return sorted(getattr(model, "model_fields", {}))


def _rules(loaded: LoadedDescription, dep: Deployment) -> list[Finding]:
    out: list[Finding] = []
    add = out.append
    seen_site: dict[str, int] = {}
    seen_az: dict[str, str] = {}
    seen_host: dict[str, str] = {}
    subnets: list[tuple[int, int, str, tuple]] = []
    controllers = 0
    for i, site in enumerate(dep.sites):
        here = ("sites", i)
        if site.name in seen_site:
            add(
                _finding(
                    loaded,
                    "DCN101",
                    (*here, "name"),
                    f"site {site.name!r} is declared twice",
                    "give every site its own name",
                )
            )
        seen_site[site.name] = i
        if site.az in seen_az:
            add(
                _finding(
                    loaded,
                    "DCN104",
                    here,
                    f"availability zone {site.az!r} is used by {seen_az[site.az]} and {site.name}",
                    "give each site its own AZ",
                )
            )
        seen_az[site.az] = site.name
        for role in site.roles:
            rd = ROLES.get(role)
            if rd is None or site.kind not in rd.kinds:
                ok = [r for r, d in ROLES.items() if site.kind in d.kinds]
                add(
                    _finding(
                        loaded,
                        "DCN004",
                        (*here, "roles", role),
                        f"role {role!r} cannot be used at a {site.kind} site",
                        f"use one of {', '.join(ok)}",
                    )
                )
            elif site.is_control_plane and role == "Controller":
                controllers += site.roles[role].size
        for node in expand(site, dep.name):
            if node.hostname in seen_host:
                add(
                    _finding(
                        loaded,
                        "DCN102",
                        (*here, "roles", node.role),
                        f"hostname {node.hostname} is also in site {seen_host[node.hostname]}",
                        "change hostname_format or the node's hostname",
                    )
                )
            seen_host[node.hostname] = site.name
        for net, sub in site.networks.items():
            cidr = parsed_network(sub.cidr)
            subnets.append(
                (
                    cidr.version,
                    int(cidr.network_address),
                    int(cidr.broadcast_address),
                    (*here, "networks", net),
                )
            )
            provisioning = net in dep.networks and dep.network_is_provisioning(net)
            if provisioning and cidr.version == 6:
                add(
                    _finding(
                        loaded,
                        "DCN204",
                        (*here, "networks", net, "cidr"),
                        "IPv6 cannot be used for provisioning networks (seed)",
                        "use an IPv4 subnet for ctlplane; IPv6 fits other networks",
                    )
                )
        if site.sdn.dvr and site.sdn.mechanism not in DVR_MECHANISMS:
            add(
                _finding(
                    loaded,
                    "DCN404",
                    (*here, "sdn", "dvr"),
                    f"DVR needs an SDN mechanism that routes ({' or '.join(DVR_MECHANISMS)}); "
                    f"this site's mechanism is {site.sdn.mechanism!r}",
                    f"set sdn.mechanism to {' or '.join(DVR_MECHANISMS)}, or remove sdn.dvr",
                )
            )
        if not site.is_control_plane:
            if site.sdn.tunnelling:
                add(
                    _finding(
                        loaded,
                        "DCN401",
                        (*here, "sdn"),
                        "tunnelling SDN backends are "
                        "sub-optimal at the edge (Launchpad bugs 1808594, 1808062)",
                        "use provider networks at the edge",
                    )
                )
            md = site.instance_metadata
            if not md.config_drive and not md.metadata_route:
                add(
                    _finding(
                        loaded,
                        "DCN402",
                        (*here, "instance_metadata"),
                        "instances get "
                        "no metadata: no config drive and no route to the metadata service",
                        "set instance_metadata.config_drive: true",
                    )
                )
            if site.instance_storage != "ephemeral":
                add(
                    _finding(
                        loaded,
                        "DCN403",
                        (*here, "instance_storage"),
                        "only ephemeral instance storage is supported at the edge (seed)",
                        "set instance_storage: ephemeral",
                    )
                )
    out.extend(_structure(loaded, dep))
    out.extend(_leaves(loaded, dep))
    subnets.sort()
    for a, b in itertools.pairwise(subnets):
        if a[0] == b[0] and b[1] <= a[2]:
            add(
                _finding(
                    loaded,
                    "DCN201",
                    b[3],
                    f"subnet overlaps {'.'.join(map(str, a[3]))}",
                    "give every leaf its own subnet",
                )
            )
    cp = dep.control_plane
    if cp is not None and controllers == 1:
        idx = dep.sites.index(cp)
        add(
            _finding(
                loaded,
                "DCN301",
                ("sites", idx, "roles"),
                "one controller: its failure stops every API operation at every site",
                "set ha_size: 3",
            )
        )
    return out


def _reversed(pool: Pool) -> bool:
    """Whether an allocation pool starts after it ends (same address family only)."""
    start, end = parsed_address(pool.start), parsed_address(pool.end)
    return start.version == end.version and int(start) > int(end)


def _leaves(loaded: LoadedDescription, dep: Deployment) -> list[Finding]:
    """Each leaf against its network's supernet (DCN209) and its pools' order (DCN210)."""
    out: list[Finding] = []
    for i, site in enumerate(dep.sites):
        for net, sub in site.networks.items():
            at = ("sites", i, "networks", net)
            for k, pool in enumerate(sub.allocation_pools or []):
                if _reversed(pool):
                    out.append(
                        _finding(
                            loaded,
                            "DCN210",
                            (*at, "allocation_pools", k),
                            f"allocation pool {pool.start}-{pool.end} starts after it ends",
                            f"swap them: start: {pool.end}, end: {pool.start}",
                        )
                    )
            defn = dep.networks.get(net)
            cidr = parsed_network(sub.cidr)
            if defn is None or defn.supernet is None or cidr.version != defn.ip_version:
                continue  # undeclared (DCN005) or the wrong family (DCN205)
            supernet = parsed_network(defn.supernet)
            if supernet.version != cidr.version or not (
                supernet.network_address <= cidr.network_address
                and cidr.broadcast_address <= supernet.broadcast_address
            ):
                out.append(
                    _finding(
                        loaded,
                        "DCN209",
                        (*at, "cidr"),
                        f"{sub.cidr} is outside network {net}'s supernet {defn.supernet}: "
                        "the one route other sites get to the supernet does not reach it",
                        f"widen networks.{net}.supernet, or fix the cidr to lie inside it",
                    )
                )
    return out


def _covers(routes: list, target: ipaddress._BaseNetwork) -> bool:
    for r in routes:
        dest = parsed_network(r.destination)
        if dest.version == target.version and target.subnet_of(dest):  # type: ignore[arg-type]
            return True
    return False


def _structure(loaded: LoadedDescription, dep: Deployment) -> list[Finding]:
    """Control-plane count, declared networks, role subnets, capacity, routes to central."""
    out: list[Finding] = []
    cps = [i for i, s in enumerate(dep.sites) if s.is_control_plane]
    if not cps and dep.control_plane_export is None:
        out.append(
            _finding(
                loaded,
                "DCN002",
                ("sites",),
                "no control-plane site",
                "add a site with kind: control-plane, or set control_plane_export",
            )
        )
    for i in cps[1:]:
        out.append(
            _finding(
                loaded,
                "DCN003",
                ("sites", i, "kind"),
                "a second control-plane site",
                "keep one control-plane site; the others are edges",
            )
        )
    cp = dep.control_plane
    macs: dict[str, str] = {}
    fixed: dict[str, str] = {}
    for i, site in enumerate(dep.sites):
        here = ("sites", i)
        controllers = site.roles.get("Controller")
        if site.ha_size is not None and (
            not site.is_control_plane or (controllers and controllers.size != site.ha_size)
        ):
            out.append(
                _finding(
                    loaded,
                    "DCN007",
                    (*here, "ha_size"),
                    "ha_size is only for the control plane and must equal the Controller count",
                    "remove ha_size, or make Controller count equal to it",
                )
            )
        for role, spec in site.roles.items():
            for k, node in enumerate(spec.nodes):
                where = (*here, "roles", role, "nodes", k)
                if node.mac and node.mac in macs:
                    out.append(
                        _finding(
                            loaded,
                            "DCN103",
                            (*where, "mac"),
                            f"MAC {node.mac} is also {macs[node.mac]}'s",
                            "give each node its MAC",
                        )
                    )
                if node.mac:
                    macs[node.mac] = node.hostname
                for net, ip in node.addresses.items():
                    if ip in fixed:
                        out.append(
                            _finding(
                                loaded,
                                "DCN103",
                                (*where, "addresses", net),
                                f"{ip} is also {fixed[ip]}'s",
                                "give each node its own address",
                            )
                        )
                    fixed[ip] = node.hostname
                    sub = site.networks.get(net)
                    if sub and parsed_address(ip) not in parsed_network(sub.cidr):
                        out.append(
                            _finding(
                                loaded,
                                "DCN207",
                                (*where, "addresses", net),
                                f"{ip} is outside the {net} leaf {sub.cidr}",
                                "use an address inside the site's leaf",
                            )
                        )
        for net, sub in site.networks.items():
            if net not in dep.networks:
                continue
            cidr = parsed_network(sub.cidr)
            at = (*here, "networks", net)
            if cidr.version != dep.networks[net].ip_version:
                out.append(
                    _finding(
                        loaded,
                        "DCN205",
                        at,
                        f"{sub.cidr} is IPv{cidr.version} "
                        f"but network {net} is IPv{dep.networks[net].ip_version}",
                        f"use an IPv{dep.networks[net].ip_version} subnet or set "
                        "ip_version on the network",
                    )
                )
                continue
            points = [sub.gateway] if sub.gateway else []
            for pool in sub.allocation_pools or []:
                points += [pool.start, pool.end]
            if any(parsed_address(p) not in cidr for p in points):
                out.append(
                    _finding(
                        loaded,
                        "DCN206",
                        at,
                        f"gateway or pool outside {sub.cidr}",
                        "keep the gateway and pools inside the subnet",
                    )
                )
            if (
                cidr.version == 6
                and dep.networks[net].ipv6_address_mode == "slaac"
                and cidr.prefixlen != 64
            ):
                out.append(
                    _finding(
                        loaded,
                        "DCN208",
                        at,
                        f"SLAAC needs a /64, {sub.cidr} is /{cidr.prefixlen}",
                        "use a /64 leaf for SLAAC",
                    )
                )
        for net in site.networks:
            if net not in dep.networks:
                out.append(
                    _finding(
                        loaded,
                        "DCN005",
                        (*here, "networks", net),
                        f"network {net!r} is not declared under top-level networks",
                        f"declare it (known: {', '.join(dep.networks)})",
                    )
                )
        need: dict[str, int] = {}
        for role, spec in site.roles.items():
            rd = ROLES.get(role)
            for net in spec.networks or (rd.networks if rd else ()):
                if net not in dep.networks:
                    continue
                if net not in site.networks:
                    out.append(
                        _finding(
                            loaded,
                            "DCN006",
                            (*here, "roles", role),
                            f"role {role} needs network {net} but the site has no {net} subnet",
                            f"add networks.{net} to the site",
                        )
                    )
                    continue
                need[net] = need.get(net, 0) + spec.size
        for net, count in need.items():
            sub = site.networks[net]
            if any(_reversed(p) for p in sub.allocation_pools or []):
                continue  # its capacity is meaningless until DCN210 is fixed
            if (
                parsed_network(sub.cidr).version == 6
                and dep.networks[net].ipv6_address_mode == "slaac"
            ):
                continue
            count += 1 if site.is_control_plane and dep.network_has_vip(net) else 0
            have = leaf_capacity(sub)
            if have < count:
                out.append(
                    _finding(
                        loaded,
                        "DCN202",
                        (*here, "networks", net),
                        f"{sub.cidr} has {have} free addresses but needs {count}",
                        "give the leaf a larger subnet or allocation pool",
                    )
                )
        if cp is None or site is cp:
            continue
        for net, sub in site.networks.items():
            if net not in cp.networks or net not in dep.networks:
                continue
            target = parsed_network(cp.networks[net].cidr)
            routed = sub.routes is not None
            ok = _covers(sub.routes or [], target) if routed else sub.gateway is not None
            if not ok:
                out.append(
                    _finding(
                        loaded,
                        "DCN203",
                        (*here, "networks", net),
                        f"leaf {sub.cidr} has no route to the control plane's {net} leaf {target}",
                        "add a gateway, or a route to that subnet (or a supernet)",
                    )
                )
    return out


def _liveness(loaded: LoadedDescription, dep: Deployment) -> list[Finding]:
    """A service that misses one report must not be marked down (DCN501)."""
    live = dep.liveness
    if live.service_down_time >= 2 * live.report_interval:
        return []
    return [
        _finding(
            loaded,
            "DCN501",
            ("liveness", "service_down_time"),
            f"service_down_time {live.service_down_time}s is under twice report_interval "
            f"{live.report_interval}s: one late report marks a healthy service down",
            f"set service_down_time to at least {2 * live.report_interval}",
        )
    ]


def validate(loaded: LoadedDescription) -> ValidationResult:
    try:
        dep = parse(loaded.data)
    except ValidationError as exc:
        return ValidationResult(None, _schema(loaded, exc))
    findings = _rules(loaded, dep) + _liveness(loaded, dep)
    findings.sort(key=lambda f: (f.location.file, f.location.line or 0))
    return ValidationResult(dep, findings)
