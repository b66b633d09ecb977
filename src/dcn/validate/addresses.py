"""Rules about leaves, addresses, routes and MACs (DCN005/006, DCN103, DCN105, DCN2xx)."""

from __future__ import annotations

from dcn.errors import Finding
from dcn.model.description import Deployment, Pool, Site, Subnet
from dcn.model.ipints import IpInt, NetRange, address_int, network_range
from dcn.model.loader import LoadedDescription
from dcn.model.roles import ROLES
from dcn.network import leaf_capacity
from dcn.validate.rules import finding


def address_findings(
    loaded: LoadedDescription, frame: Deployment, i: int, site: Site
) -> list[Finding]:
    """One site's leaves, routes, MACs and fixed addresses; `frame` holds the
    deployment-wide networks and the control plane (duplicates across sites are
    found from every site's summary, in `dcn.validate.fleetwide`)."""
    return [*_nodes(loaded, i, site), *_site_leaves(loaded, frame, i, site)]


def _mac_problem(mac: str) -> str | None:
    """Why `mac` (normalised ``aa:bb:..``) cannot identify one node's interface, or None."""
    if mac == "ff:ff:ff:ff:ff:ff":
        return "the broadcast address"
    if mac == "00:00:00:00:00:00":
        return "all zero (no interface has it)"
    if int(mac[:2], 16) & 1:
        return "a multicast address (the first octet is odd)"
    return None


def _nodes(loaded: LoadedDescription, i: int, site: Site) -> list[Finding]:
    """Listed nodes: unicast MACs; fixed addresses on their leaf, off the leaf's gateway,
    network and broadcast addresses."""
    out: list[Finding] = []
    for role, spec in site.roles.items():
        for k, node in enumerate(spec.nodes):
            where = ("sites", i, "roles", role, "nodes", k)
            problem = _mac_problem(node.mac) if node.mac else None
            if problem:
                msg = f"MAC {node.mac} of {node.hostname} is {problem}"
                fix = "use the node's own unicast MAC (first octet even, like 52:54:00)"
                out.append(finding(loaded, "DCN105", (*where, "mac"), msg, fix))
            for net, ip in node.addresses.items():
                at = (*where, "addresses", net)
                sub = site.networks.get(net)
                if sub is None:
                    continue
                if not network_range(sub.cidr).holds(address_int(ip)):
                    msg = f"{ip} is outside the {net} leaf {sub.cidr}"
                    fix = "use an address inside the site's leaf"
                    out.append(finding(loaded, "DCN207", at, msg, fix))
                    continue
                reserved = _reserved(sub, ip)
                if reserved:
                    msg = f"{ip} is the {net} leaf's {reserved}: no node can have it"
                    fix = "use a free address of the leaf (not its gateway, first or last)"
                    out.append(finding(loaded, "DCN211", at, msg, fix))
    return out


def _reserved(sub: Subnet, ip: str) -> str | None:
    """What `ip` already is on leaf `sub`: its gateway, network or broadcast address."""
    addr = address_int(ip)
    if sub.gateway is not None and address_int(sub.gateway) == addr:
        return f"gateway {sub.gateway}"
    cidr = network_range(sub.cidr)
    small = cidr.prefixlen >= cidr.max_prefixlen - 1  # /31, /32, /127, /128: no reserved ends
    if not small and addr == IpInt(cidr.version, cidr.first):
        return "network address" if cidr.version == 4 else "subnet-router anycast address"
    if not small and addr == IpInt(4, cidr.last) and cidr.version == 4:
        return "broadcast address"
    return None


def _reversed(pool: Pool) -> bool:
    """Whether an allocation pool starts after it ends (same address family only)."""
    start, end = address_int(pool.start), address_int(pool.end)
    return start.version == end.version and start.value > end.value


def _covers(routes: list, target: NetRange) -> bool:
    """Whether a route's destination holds all of `target` (``subnet_of``)."""
    for r in routes:
        dest = network_range(r.destination)
        if (
            dest.version == target.version
            and dest.first <= target.first <= target.last <= dest.last
        ):
            return True
    return False


def _site_leaves(loaded: LoadedDescription, dep: Deployment, i: int, site: Site) -> list[Finding]:
    """Each leaf of one site: declared, right family, gateway/pools/routes on it, big enough."""
    out: list[Finding] = []
    add = out.append
    here = ("sites", i)
    for net, sub in site.networks.items():
        at = (*here, "networks", net)
        for k, pool in enumerate(sub.allocation_pools or []):
            if _reversed(pool):
                msg = f"allocation pool {pool.start}-{pool.end} starts after it ends"
                fix = f"swap them: start: {pool.end}, end: {pool.start}"
                add(finding(loaded, "DCN210", (*at, "allocation_pools", k), msg, fix))
        defn = dep.networks.get(net)
        if defn is None:
            msg = f"network {net!r} is not declared under top-level networks"
            add(
                finding(loaded, "DCN005", at, msg, f"declare it (known: {', '.join(dep.networks)})")
            )
            continue
        cidr = network_range(sub.cidr)
        if cidr.version == 6 and dep.network_is_provisioning(net):
            msg = "IPv6 cannot be used for provisioning networks (seed)"
            fix = "use an IPv4 subnet for ctlplane; IPv6 fits other networks"
            add(finding(loaded, "DCN204", (*at, "cidr"), msg, fix))
        if cidr.version != defn.ip_version:
            msg = f"{sub.cidr} is IPv{cidr.version} but network {net} is IPv{defn.ip_version}"
            fix = f"use an IPv{defn.ip_version} subnet or set ip_version on the network"
            add(finding(loaded, "DCN205", at, msg, fix))
            continue
        if defn.supernet is not None:
            supernet = network_range(defn.supernet)
            if supernet.version != cidr.version or not (
                supernet.first <= cidr.first and cidr.last <= supernet.last
            ):
                add(
                    finding(
                        loaded,
                        "DCN209",
                        (*at, "cidr"),
                        f"{sub.cidr} is outside network {net}'s supernet {defn.supernet}: "
                        "the one route other sites get to the supernet does not reach it",
                        f"widen networks.{net}.supernet, or fix the cidr to lie inside it",
                    )
                )
        points = [sub.gateway] if sub.gateway else []
        for pool in sub.allocation_pools or []:
            points += [pool.start, pool.end]
        if not all(cidr.holds(address_int(p)) for p in points):
            msg = f"gateway or pool outside {sub.cidr}"
            add(finding(loaded, "DCN206", at, msg, "keep the gateway and pools inside the subnet"))
        for k, route in enumerate(sub.routes or []):
            if not cidr.holds(address_int(route.nexthop)):
                add(
                    finding(
                        loaded,
                        "DCN212",
                        (*at, "routes", k, "nexthop"),
                        f"next hop {route.nexthop} of the route to {route.destination} is not "
                        f"on the {net} leaf {sub.cidr}: the kernel refuses an off-link gateway",
                        f"use a router address inside {sub.cidr} (usually the leaf's gateway)",
                    )
                )
        if cidr.version == 6 and defn.ipv6_address_mode == "slaac" and cidr.prefixlen != 64:
            msg = f"SLAAC needs a /64, {sub.cidr} is /{cidr.prefixlen}"
            add(finding(loaded, "DCN208", at, msg, "use a /64 leaf for SLAAC"))
    out.extend(_capacity(loaded, dep, i, site))
    out.extend(_route_to_control_plane(loaded, dep, i, site))
    return out


def _capacity(loaded: LoadedDescription, dep: Deployment, i: int, site: Site) -> list[Finding]:
    """Every role's network has a leaf (DCN006) with room for its nodes and VIP (DCN202)."""
    out: list[Finding] = []
    need: dict[str, int] = {}
    for role, spec in site.roles.items():
        rd = ROLES.get(role)
        for net in spec.networks or (rd.networks if rd else ()):
            if net not in dep.networks:
                continue
            if net not in site.networks:
                msg = f"role {role} needs network {net} but the site has no {net} subnet"
                fix = f"add networks.{net} to the site"
                out.append(finding(loaded, "DCN006", ("sites", i, "roles", role), msg, fix))
                continue
            need[net] = need.get(net, 0) + spec.size
    for net, count in need.items():
        sub = site.networks[net]
        if any(_reversed(p) for p in sub.allocation_pools or []):
            continue  # its capacity is meaningless until DCN210 is fixed
        if network_range(sub.cidr).version == 6 and dep.networks[net].ipv6_address_mode == "slaac":
            continue
        count += 1 if site.is_control_plane and dep.network_has_vip(net) else 0
        have = leaf_capacity(sub)
        if have < count:
            msg = f"{sub.cidr} has {have} free addresses but needs {count}"
            fix = "give the leaf a larger subnet or allocation pool"
            out.append(finding(loaded, "DCN202", ("sites", i, "networks", net), msg, fix))
    return out


def _route_to_control_plane(
    loaded: LoadedDescription, dep: Deployment, i: int, site: Site
) -> list[Finding]:
    """An edge leaf reaches the control plane's leaf of its network (DCN203)."""
    cp = dep.control_plane
    if cp is None or site is cp:
        return []
    out = []
    for net, sub in site.networks.items():
        if net not in cp.networks or net not in dep.networks:
            continue
        target = cp.networks[net].cidr
        routed = sub.routes is not None
        ok = _covers(sub.routes or [], network_range(target)) if routed else sub.gateway is not None
        if not ok:
            msg = f"leaf {sub.cidr} has no route to the control plane's {net} leaf {target}"
            fix = "add a gateway, or a route to that subnet (or a supernet)"
            out.append(finding(loaded, "DCN203", ("sites", i, "networks", net), msg, fix))
    return out
