"""The lab's fabric, computed from the site plans: a pure function, no host touched.

A routed spine-leaf fabric as in the seed, with no shared L2 between sites:

- one network namespace per node, with one interface per network, holding the node's
  planned address, the planned routes to the other leaves and a default route via its
  ctlplane gateway (as a real node has), plus the control plane's VIPs on the first
  controller;
- one leaf router namespace per site, with a bridge per network holding the leaf's
  gateway addresses, and a point-to-point uplink to the spine;
- one spine namespace routing every leaf subnet to its leaf, joined to the machine by
  one veth, so Ansible on the machine reaches every node's ctlplane address over SSH.

Names: network namespaces ``dcn-<deployment>-<node>``; interface names are short (the
kernel allows 15 characters) and only need to be unique inside their namespace.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import netaddr

from dcn.errors import DcnError
from dcn.plan.types import StackPlan

#: point-to-point links spine <-> leaf (IPv4 /31 each) and machine <-> spine
UPLINKS_V4 = netaddr.IPNetwork("198.19.255.0/24")
HOST_LINK_V4 = netaddr.IPNetwork("198.19.254.0/31")
#: IPv6 uplinks, one /64 per leaf (only when a network is IPv6)
UPLINKS_V6 = netaddr.IPNetwork("fd00:dcf:ffff::/48")
IFNAME_MAX = 15
#: the leaf router's bridge of the site's provider segments
PROVIDER_BRIDGE = "br-prov"


@dataclass(frozen=True, slots=True)
class LabNode:
    site: str
    hostname: str
    netns: str
    #: where the machine reaches the node's sshd (its ctlplane address)
    ssh_address: str
    #: interface name -> address with prefix length
    interfaces: dict[str, list[str]]


@dataclass(slots=True)
class FabricPart:
    """The commands of one part of the fabric: the spine (key ``""``), one site's leaf
    (its name) or one node (``node_part(hostname)``).

    Parts are built and removed on their own, so a site or a node added to a running
    lab is one more part, and a node removed takes only its own part with it.
    """

    namespaces: list[str] = field(default_factory=list)
    #: namespaces that forward (leaves, spine)
    routers: list[str] = field(default_factory=list)
    #: namespace -> commands creating links (run first: a veth spans two namespaces)
    links: dict[str, list[str]] = field(default_factory=dict)
    #: namespace -> addresses, routes, link up (run after every link exists)
    config: dict[str, list[str]] = field(default_factory=dict)
    #: commands in the machine's own namespace (its end of the fabric, its routes)
    host: list[str] = field(default_factory=list)
    #: namespace -> interfaces whose TX checksum offload must be off (run last): a veth
    #: feeding a userspace Open vSwitch port (AF_PACKET) passes TCP only without it
    no_tx_offload: dict[str, list[str]] = field(default_factory=dict)

    def add(self, ns: str, kind: str, *commands: str) -> None:
        getattr(self, kind).setdefault(ns, []).extend(commands)


@dataclass(slots=True)
class LabTopology:
    """Every namespace and the ``ip`` commands that build it, in order."""

    deployment: str
    spine: str
    host_link: str
    #: site -> leaf router namespace
    leaves: dict[str, str]
    nodes: list[LabNode]
    #: "" (spine and the machine's link), one part per site, one per node
    parts: dict[str, FabricPart] = field(default_factory=dict)
    #: site -> its uplink index on the spine (stable as sites are added)
    indices: dict[str, int] = field(default_factory=dict)

    def _merged(self, kind: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for part in self.parts.values():
            for ns, commands in getattr(part, kind).items():
                out.setdefault(ns, []).extend(commands)
        return out

    @property
    def links(self) -> dict[str, list[str]]:
        return self._merged("links")

    @property
    def config(self) -> dict[str, list[str]]:
        return self._merged("config")

    @property
    def no_tx_offload(self) -> dict[str, list[str]]:
        return self._merged("no_tx_offload")

    @property
    def host(self) -> list[str]:
        return [c for part in self.parts.values() for c in part.host]

    @property
    def routers(self) -> list[str]:
        return [r for part in self.parts.values() for r in part.routers]

    @property
    def namespaces(self) -> list[str]:
        return [ns for part in self.parts.values() for ns in part.namespaces]

    def node(self, hostname: str) -> LabNode:
        for node in self.nodes:
            if node.hostname == hostname:
                return node
        raise DcnError(f"no lab node named {hostname}")


def netns_name(deployment: str, name: str) -> str:
    return f"dcn-{deployment}-{name}"


def _ifname(base: str) -> str:
    return base[:IFNAME_MAX]


def node_part(hostname: str) -> str:
    """The key of a node's own part of the fabric (site names hold no ``:``)."""
    return f"node:{hostname}"


def _tag(hostname: str) -> str:
    """Six characters naming a node's links on its leaf: the same for the node whatever
    its position in the plan, so adding or removing other nodes renames nothing."""
    return hashlib.blake2s(hostname.encode(), digest_size=3).hexdigest()


def _prefixed(address: str, cidr: str) -> str:
    return f"{address}/{netaddr.IPNetwork(cidr).prefixlen}"


def _check_overlap(plans: Sequence[StackPlan]) -> None:
    reserved = (UPLINKS_V4, HOST_LINK_V4, UPLINKS_V6)
    for plan in plans:
        for subnet in plan.network.subnets.values():
            cidr = netaddr.IPNetwork(subnet.cidr)
            for r in reserved:
                if cidr.version == r.version and (cidr in r or r in cidr):
                    raise DcnError(
                        f"site {plan.site}: {subnet.network} subnet {subnet.cidr} overlaps the "
                        f"lab's own links ({r})",
                        hint="choose leaf subnets outside 198.19.254.0/23 and fd00:dcf:ffff::/48",
                    )


def _indices(plans: Sequence[StackPlan], known: Mapping[str, int] | None) -> dict[str, int]:
    """Uplink index per site: kept from a running lab, the next free ones for new sites."""
    indices = dict(known or {})
    free = (i for i in range(len(UPLINKS_V4) // 2) if i not in set(indices.values()))
    for plan in plans:
        if plan.site not in indices:
            indices[plan.site] = next(free)
    return indices


def build(
    deployment: str, plans: Sequence[StackPlan], indices: Mapping[str, int] | None = None
) -> LabTopology:
    """The lab for these site plans (every site of the deployment, control plane first).

    `indices`: the uplink index of sites already in a running lab, so adding a site
    leaves every existing link as it is.
    """
    _check_overlap(plans)
    spine = netns_name(deployment, "spine")
    host_link = _ifname(f"dcn-{deployment}")
    topo = LabTopology(deployment, spine, host_link, {}, [], indices=_indices(plans, indices))
    spine_host, machine = HOST_LINK_V4[1], HOST_LINK_V4[0]
    base = topo.parts[""] = FabricPart(namespaces=[spine], routers=[spine])
    base.links[spine] = []
    base.add(spine, "config", f"addr add {spine_host}/31 dev host", "link set dev host up")
    base.add(spine, "config", "link set dev lo up")
    base.host += [
        f"link add name {host_link} type veth peer name host netns {spine}",
        f"addr add {machine}/31 dev {host_link}",
        f"link set dev {host_link} up",
    ]
    any_v6 = any(s.ip_version == 6 for p in plans for s in p.network.subnets.values())
    for plan in plans:
        _site(topo, plan, any_v6, str(spine_host))
    return topo


def _site(topo: LabTopology, plan: StackPlan, any_v6: bool, spine_host: str) -> None:
    """One site's leaf router, its uplink and routes on the spine and the machine."""
    index, spine = topo.indices[plan.site], topo.spine
    leaf = netns_name(topo.deployment, f"leaf-{plan.site}")
    part = topo.parts[plan.site] = FabricPart(namespaces=[leaf], routers=[leaf])
    topo.leaves[plan.site] = leaf
    # by index: site names cut to 15 characters could collide
    up = _ifname(f"up-{index}")
    spine_v4, leaf_v4 = UPLINKS_V4[2 * index], UPLINKS_V4[2 * index + 1]
    part.add(leaf, "links", f"link add name uplink type veth peer name {up} netns {spine}")
    part.add(leaf, "config", "link set dev lo up", f"addr add {leaf_v4}/31 dev uplink")
    part.add(leaf, "config", "link set dev uplink up", f"route add default via {spine_v4}")
    part.add(spine, "config", f"addr add {spine_v4}/31 dev {up}", f"link set dev {up} up")
    net6 = list(UPLINKS_V6.subnet(64, count=index + 1))[index] if any_v6 else None
    if net6 is not None:
        part.add(leaf, "config", f"addr add {net6[2]}/64 dev uplink nodad")
        part.add(leaf, "config", f"route add default via {net6[1]}")
        part.add(spine, "config", f"addr add {net6[1]}/64 dev {up} nodad")
    for net, subnet in sorted(plan.network.subnets.items()):
        bridge = _ifname(f"br-{net}")
        part.add(leaf, "links", f"link add name {bridge} type bridge")
        part.add(leaf, "config", f"link set dev {bridge} up")
        if subnet.gateway:
            nodad = " nodad" if subnet.ip_version == 6 else ""
            gateway = _prefixed(subnet.gateway, subnet.cidr)
            part.add(leaf, "config", f"addr add {gateway} dev {bridge}{nodad}")
        if subnet.ip_version == 4:
            part.add(spine, "config", f"route add {subnet.cidr} via {leaf_v4}")
            part.host.append(f"route add {subnet.cidr} via {spine_host}")
        elif net6 is not None:
            part.add(spine, "config", f"route add {subnet.cidr} via {net6[2]}")
    _provider(plan, leaf, spine, str(leaf_v4), part)
    _nodes(topo, plan, leaf)


def _provider(plan: StackPlan, leaf: str, spine: str, leaf_v4: str, part: FabricPart) -> None:
    """The site's provider segments on its leaf router: one bridge the computes' provider
    NICs join, each segment's gateway on it (flat) or on its VLAN, and the spine's route
    to each segment subnet, so a workload reaches its site's gateway without the spine
    and other sites through it."""
    network = plan.network
    if not network.provider_interface or not network.provider_segments:
        return
    part.add(leaf, "links", f"link add name {PROVIDER_BRIDGE} type bridge")
    part.add(leaf, "config", f"link set dev {PROVIDER_BRIDGE} up")
    for seg in network.provider_segments:
        device = PROVIDER_BRIDGE
        if seg.vlan is not None:
            device = _ifname(f"{PROVIDER_BRIDGE}.{seg.vlan}")
            part.add(
                leaf,
                "links",
                f"link add link {PROVIDER_BRIDGE} name {device} type vlan id {seg.vlan}",
            )
            part.add(leaf, "config", f"link set dev {device} up")
        part.add(leaf, "config", f"addr add {_prefixed(seg.gateway, seg.cidr)} dev {device}")
        if netaddr.IPNetwork(seg.cidr).version == 4:
            part.add(spine, "config", f"route add {seg.cidr} via {leaf_v4}")


def _nodes(topo: LabTopology, plan: StackPlan, leaf: str) -> None:
    """Each node's namespace, its links to the leaf's bridges and its addresses: one
    part per node."""
    for node in plan.nodes:
        ns = netns_name(topo.deployment, node.hostname)
        part = topo.parts[node_part(node.hostname)] = FabricPart(namespaces=[ns])
        part.links[ns] = []
        tag = _tag(node.hostname)
        cfg = ["link set dev lo up"]
        interfaces: dict[str, list[str]] = {}
        # its own addresses, and the VIPs on the first controller (the APIs behind them)
        held = plan.held_addresses(node)
        for k_index, (net, subnet) in enumerate(sorted(plan.network.subnets.items())):
            if net not in held:
                continue
            address, *vips = held[net]
            ifname = _ifname(net)
            peer = _ifname(f"n{tag}-{k_index}")
            part.add(ns, "links", f"link add name {ifname} type veth peer name {peer} netns {leaf}")
            part.add(
                leaf,
                "config",
                f"link set dev {peer} master {_ifname(f'br-{net}')}",
                f"link set dev {peer} up",
            )
            nodad = " nodad" if subnet.ip_version == 6 else ""
            addrs = [_prefixed(address, subnet.cidr)]
            cfg += [f"addr add {addrs[0]} dev {ifname}{nodad}", f"link set dev {ifname} up"]
            for vip in vips:
                host_bits = 32 if subnet.ip_version == 4 else 128
                addrs.append(f"{vip}/{host_bits}")
                cfg.append(f"addr add {addrs[-1]} dev {ifname}{nodad}")
            cfg += [f"route add {r.destination} via {r.nexthop}" for r in subnet.routes]
            if net == "ctlplane" and subnet.gateway:
                cfg.append(f"route add default via {subnet.gateway}")
            interfaces[ifname] = addrs
        uplink = plan.network.provider_interface
        if uplink and plan.network.provider_segments and "ovs" in node.services:
            # no address: the NIC is a port of the node's br-provider
            peer = _ifname(f"p{tag}")
            part.add(ns, "links", f"link add name {uplink} type veth peer name {peer} netns {leaf}")
            part.add(
                leaf,
                "config",
                f"link set dev {peer} master {PROVIDER_BRIDGE}",
                f"link set dev {peer} up",
            )
            part.no_tx_offload.setdefault(leaf, []).append(peer)
            cfg.append(f"link set dev {uplink} up")
        if node.ssh_address is None:
            raise DcnError(
                f"lab node {node.hostname} has no ctlplane address",
                hint="give the site a ctlplane subnet",
            )
        part.config[ns] = cfg
        topo.nodes.append(LabNode(plan.site, node.hostname, ns, node.ssh_address, interfaces))
