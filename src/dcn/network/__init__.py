"""Per-site address plan: leaf subnets, sticky addresses, VIPs, routes, EUI-64 SLAAC.

Addresses are sticky: the previous recorded plan is passed in as `pinned`, and an
address it held is kept while still valid, so scaling a site never renumbers nodes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping

import netaddr

from dcn.errors import DcnError
from dcn.model.description import Deployment, ProviderNetwork, Site, Subnet
from dcn.model.ipints import address_int, network_range
from dcn.model.nodes import Node
from dcn.model.roles import ROLES
from dcn.plan.types import (
    NodeAddressing,
    ProviderSegmentPlan,
    RoutePlan,
    SiteNetworkPlan,
    SubnetPlan,
)

VIP_KEY = "__vip__"


def eui64_address(prefix: str, mac: str) -> str:
    """The SLAAC address of `mac` in a /64: flip the U/L bit, insert ff:fe."""
    net = ipaddress.IPv6Network(prefix)
    if net.prefixlen != 64:
        raise DcnError(f"SLAAC needs a /64 prefix, {prefix} is /{net.prefixlen}")
    b = bytes(int(x, 16) for x in mac.split(":"))
    iid = bytes([b[0] ^ 0x02, b[1], b[2], 0xFF, 0xFE, b[3], b[4], b[5]])
    return str(ipaddress.IPv6Address(int(net.network_address) | int.from_bytes(iid, "big")))


def pool_ranges(subnet: Subnet) -> list[tuple[int, int]]:
    """Inclusive integer ranges dcn may assign from."""
    if subnet.allocation_pools:
        return [
            (address_int(p.start).value, address_int(p.end).value) for p in subnet.allocation_pools
        ]
    net = network_range(subnet.cidr)
    first, last = net.first + 1, net.last - (1 if net.version == 4 else 0)
    if subnet.gateway and address_int(subnet.gateway).value == first:
        first += 1
    return [(first, last)]


def leaf_capacity(subnet: Subnet) -> int:
    gw = address_int(subnet.gateway).value if subnet.gateway else None
    return sum(
        e - s + 1 - (1 if gw is not None and s <= gw <= e else 0) for s, e in pool_ranges(subnet)
    )


def _routes(deployment: Deployment, site: Site, net: str, subnet: Subnet) -> tuple[RoutePlan, ...]:
    if subnet.routes is not None:
        return tuple(RoutePlan(r.destination, r.nexthop) for r in subnet.routes)
    if not subnet.gateway:
        return ()
    supernet = deployment.networks[net].supernet
    if supernet:
        return (RoutePlan(supernet, subnet.gateway),)
    cp = deployment.control_plane
    if cp is None:
        return ()
    if site.is_control_plane:
        leaves = [
            s.networks[net].cidr
            for s in deployment.sites
            if not s.is_control_plane and net in s.networks
        ]
    else:
        leaves = [cp.networks[net].cidr] if net in cp.networks else []
    merged = netaddr.cidr_merge(leaves) if leaves else []
    return tuple(RoutePlan(str(c), subnet.gateway) for c in merged)


def plan_site_network(
    deployment: Deployment,
    site: Site,
    nodes: list[Node],
    pinned: Mapping[str, Mapping[str, str]] | None = None,
) -> SiteNetworkPlan:
    pinned = pinned or {}
    subnets: dict[str, SubnetPlan] = {}
    for net, subnet in site.networks.items():
        if net not in deployment.networks:
            continue
        defn = deployment.networks[net]
        subnets[net] = SubnetPlan(
            network=net,
            name=subnet.name or f"{net}_{site.name}",
            cidr=subnet.cidr,
            ip_version=ipaddress.ip_network(subnet.cidr).version,
            gateway=subnet.gateway,
            vlan=subnet.vlan,
            mtu=defn.mtu,
            routes=_routes(deployment, site, net, subnet),
            ipv6_address_mode=defn.ipv6_address_mode,
        )
    used: dict[str, set[int]] = {net: set() for net in subnets}
    for net, subnet in site.networks.items():
        if subnet.gateway and net in used:
            used[net].add(int(ipaddress.ip_address(subnet.gateway)))
    addresses: dict[str, dict[str, str]] = {n.hostname: {} for n in nodes}
    vips: dict[str, str] = {}

    def in_pool(net: str, value: int) -> bool:
        return any(s <= value <= e for s, e in pool_ranges(site.networks[net]))

    # each network's pool, lowest first, read once: an address passed over was taken and
    # stays taken, so the next free one is never behind (scanning from the start for
    # every node made a 10,000-node site quadratic)
    candidates: dict[str, Iterator[int]] = {
        net: (v for s, e in pool_ranges(site.networks[net]) for v in range(s, e + 1))
        for net in subnets
    }

    def take(net: str, want: str | None, where: str) -> str:
        if want is not None:
            v = int(ipaddress.ip_address(want))
            if v not in used[net] and in_pool(net, v):
                used[net].add(v)
                return str(ipaddress.ip_address(v))
        for v in candidates[net]:
            if v not in used[net]:
                used[net].add(v)
                return str(ipaddress.ip_address(v))
        raise DcnError(
            f"site {site.name} network {net}: {site.networks[net].cidr} has no free address "
            f"left for {where}",
            hint="give the leaf a larger subnet or allocation pool",
        )

    # fixed addresses first: they always win (but never over a recorded VIP)
    fixed_on: dict[str, dict[str, str]] = {}
    for node in nodes:
        for net, ip in node.fixed.items():
            if net not in subnets:
                continue
            v = int(ipaddress.ip_address(ip))
            if ipaddress.ip_address(ip) not in ipaddress.ip_network(subnets[net].cidr):
                raise DcnError(
                    f"{node.hostname}: fixed {net} address {ip} is outside {subnets[net].cidr}",
                    hint="fix the address or the subnet",
                )
            if v in used[net]:
                gateway = subnets[net].gateway
                clash = "the leaf's gateway" if gateway and ip == gateway else "taken twice"
                raise DcnError(
                    f"{node.hostname}: fixed {net} address {ip} is {clash}",
                    hint="give every node its own address, off the gateway",
                )
            used[net].add(v)
            addresses[node.hostname][net] = ip
            fixed_on.setdefault(net, {})[ip] = node.hostname
    if site.is_control_plane:
        for net in subnets:
            if deployment.network_has_vip(net):
                want = pinned.get(VIP_KEY, {}).get(net)
                if want is not None and want in fixed_on.get(net, {}):
                    raise DcnError(
                        f"{fixed_on[net][want]}: fixed {net} address {want} is the control "
                        "plane's VIP, planned before and used by every site",
                        hint="give the node another address: moving the VIP would cut "
                        "every edge from the control plane's APIs, database and broker",
                    )
                vips[net] = take(net, want, "a VIP")
    # pinned addresses are claimed before any new node takes the lowest free one
    for claim_pinned in (True, False):
        for node in nodes:
            role = ROLES.get(node.role)
            spec = site.roles[node.role]
            for net in spec.networks or (role.networks if role else ()):
                if net not in deployment.networks or net in addresses[node.hostname]:
                    continue
                if net not in subnets:
                    raise DcnError(
                        f"site {site.name} has no {net} subnet but role {node.role} needs it",
                        hint=f"add networks.{net} to site {site.name}",
                    )
                sp = subnets[net]
                if sp.ip_version == 6 and sp.ipv6_address_mode == "slaac":
                    addresses[node.hostname][net] = eui64_address(sp.cidr, node.mac)
                    continue
                want = pinned.get(node.hostname, {}).get(net)
                if claim_pinned:
                    if want is not None:
                        v = int(ipaddress.ip_address(want))
                        if v not in used[net] and in_pool(net, v):
                            used[net].add(v)
                            addresses[node.hostname][net] = want
                    continue
                addresses[node.hostname][net] = take(net, None, node.hostname)
    return SiteNetworkPlan(
        site=site.name,
        subnets=subnets,
        nodes={n.hostname: NodeAddressing(n.hostname, addresses[n.hostname], n.mac) for n in nodes},
        vips=vips,
        provider_interface=site.sdn.provider_interface,
        provider_segments=provider_segments(deployment, site.name),
    )


def provider_segments(deployment: Deployment, site: str) -> tuple[ProviderSegmentPlan, ...]:
    """The site's segments of the workload provider networks, by network name."""
    return tuple(
        ProviderSegmentPlan(
            network=net.name,
            physnet=seg.physical_network,
            vlan=seg.vlan,
            cidr=seg.subnet,
            gateway=seg.gateway_ip,
        )
        for net in sorted(deployment.workload_networks, key=lambda n: n.name)
        if isinstance(net, ProviderNetwork)
        for seg in net.segments
        if seg.site == site
    )
