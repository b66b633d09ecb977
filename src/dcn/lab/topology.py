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

from collections.abc import Sequence
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
class LabTopology:
    """Every namespace and the ``ip`` commands that build it, in order."""

    deployment: str
    spine: str
    host_link: str
    #: site -> leaf router namespace
    leaves: dict[str, str]
    nodes: list[LabNode]
    #: namespace -> commands creating links (run first: a veth spans two namespaces)
    links: dict[str, list[str]] = field(default_factory=dict)
    #: namespace -> addresses, routes, link up (run after every link exists)
    config: dict[str, list[str]] = field(default_factory=dict)
    #: commands in the machine's own namespace (its end of the fabric, its routes)
    host: list[str] = field(default_factory=list)
    #: namespaces that forward (leaves, spine)
    routers: list[str] = field(default_factory=list)

    @property
    def namespaces(self) -> list[str]:
        return [self.spine, *self.leaves.values(), *(n.netns for n in self.nodes)]

    def node(self, hostname: str) -> LabNode:
        for node in self.nodes:
            if node.hostname == hostname:
                return node
        raise DcnError(f"no lab node named {hostname}")


def netns_name(deployment: str, name: str) -> str:
    return f"dcn-{deployment}-{name}"


def _ifname(base: str) -> str:
    return base[:IFNAME_MAX]


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


def build(deployment: str, plans: Sequence[StackPlan]) -> LabTopology:
    """The lab for these site plans (every site of the deployment, control plane first)."""
    _check_overlap(plans)
    spine = netns_name(deployment, "spine")
    host_link = _ifname(f"dcn-{deployment}")
    topo = LabTopology(deployment, spine, host_link, {}, [])
    spine_host, machine = HOST_LINK_V4[1], HOST_LINK_V4[0]
    topo.links[spine] = []
    topo.config[spine] = [
        f"addr add {spine_host}/31 dev host",
        "link set dev host up",
        "link set dev lo up",
    ]
    topo.routers.append(spine)
    topo.host = [
        f"link add name {host_link} type veth peer name host netns {spine}",
        f"addr add {machine}/31 dev {host_link}",
        f"link set dev {host_link} up",
    ]
    any_v6 = any(s.ip_version == 6 for p in plans for s in p.network.subnets.values())
    for index, plan in enumerate(plans):
        leaf = netns_name(deployment, f"leaf-{plan.site}")
        topo.leaves[plan.site] = leaf
        topo.routers.append(leaf)
        up = _ifname(f"up-{plan.site}")
        spine_v4, leaf_v4 = UPLINKS_V4[2 * index], UPLINKS_V4[2 * index + 1]
        topo.links[leaf] = [f"link add name uplink type veth peer name {up} netns {spine}"]
        leaf_cfg = [
            "link set dev lo up",
            f"addr add {leaf_v4}/31 dev uplink",
            "link set dev uplink up",
            f"route add default via {spine_v4}",
        ]
        topo.config[spine] += [f"addr add {spine_v4}/31 dev {up}", f"link set dev {up} up"]
        if any_v6:
            net6 = list(UPLINKS_V6.subnet(64, count=index + 1))[index]
            leaf_cfg += [
                f"addr add {net6[2]}/64 dev uplink nodad",
                f"route add default via {net6[1]}",
            ]
            topo.config[spine].append(f"addr add {net6[1]}/64 dev {up} nodad")
        for net, subnet in sorted(plan.network.subnets.items()):
            bridge = _ifname(f"br-{net}")
            topo.links[leaf].append(f"link add name {bridge} type bridge")
            leaf_cfg.append(f"link set dev {bridge} up")
            if subnet.gateway:
                nodad = " nodad" if subnet.ip_version == 6 else ""
                leaf_cfg.append(
                    f"addr add {_prefixed(subnet.gateway, subnet.cidr)} dev {bridge}{nodad}"
                )
            via = f"{leaf_v4}" if subnet.ip_version == 4 else None
            if subnet.ip_version == 4:
                topo.config[spine].append(f"route add {subnet.cidr} via {via}")
                topo.host.append(f"route add {subnet.cidr} via {spine_host}")
            elif any_v6:
                net6 = list(UPLINKS_V6.subnet(64, count=index + 1))[index]
                topo.config[spine].append(f"route add {subnet.cidr} via {net6[2]}")
        topo.config[leaf] = leaf_cfg
        _nodes(topo, plan, leaf)
    return topo


def _nodes(topo: LabTopology, plan: StackPlan, leaf: str) -> None:
    vips = dict(plan.network.vips)
    for n_index, node in enumerate(plan.nodes):
        ns = netns_name(topo.deployment, node.hostname)
        topo.links[ns] = []
        cfg = ["link set dev lo up"]
        interfaces: dict[str, list[str]] = {}
        for k_index, (net, subnet) in enumerate(sorted(plan.network.subnets.items())):
            address = node.addresses.get(net)
            if address is None:
                continue
            ifname = _ifname(net)
            peer = _ifname(f"n{n_index}-{k_index}")
            topo.links[ns].append(f"link add name {ifname} type veth peer name {peer} netns {leaf}")
            topo.config[leaf] += [
                f"link set dev {peer} master {_ifname(f'br-{net}')}",
                f"link set dev {peer} up",
            ]
            nodad = " nodad" if subnet.ip_version == 6 else ""
            addrs = [_prefixed(address, subnet.cidr)]
            cfg += [f"addr add {addrs[0]} dev {ifname}{nodad}", f"link set dev {ifname} up"]
            if n_index == 0 and net in vips:
                host_bits = 32 if subnet.ip_version == 4 else 128
                addrs.append(f"{vips[net]}/{host_bits}")
                cfg.append(f"addr add {addrs[-1]} dev {ifname}{nodad}")
            family = ""
            cfg += [f"{family}route add {r.destination} via {r.nexthop}" for r in subnet.routes]
            if net == "ctlplane" and subnet.gateway:
                cfg.append(f"route add default via {subnet.gateway}")
            interfaces[ifname] = addrs
        ssh = node.ansible_host or node.addresses.get("ctlplane")
        if ssh is None:
            raise DcnError(
                f"lab node {node.hostname} has no ctlplane address",
                hint="give the site a ctlplane subnet",
            )
        topo.config[ns] = cfg
        topo.nodes.append(LabNode(plan.site, node.hostname, ns, ssh, interfaces))
