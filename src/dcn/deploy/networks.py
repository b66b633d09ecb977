"""What the control plane's deploy ensures in neutron and nova: the workload networks
of the description and the flavors a normal project can boot.

`spec` turns the description into plain JSON for ``dcn.node.workload_networks``,
which runs on the first controller after the control plane deploys and makes neutron
and nova match it (creating and updating, never deleting). Everything a comparison
needs is explicit here, so the node program decides without defaults of its own: the
allocation pools neutron would choose when the description names none, the gateway,
DHCP, names. No secret goes into the spec.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from typing import Any

import netaddr

from dcn.model.description import Deployment, ProviderNetwork, Segment, TenantNetwork


@dataclass(frozen=True, slots=True)
class Flavor:
    """A public flavor with a root disk: a normal project cannot boot a server from an
    image on a flavor whose disk is 0 (nova's policy for non-admins)."""

    name: str
    vcpus: int
    ram: int  # MiB
    disk: int  # GiB
    is_public: bool = True


#: the flavors every deploy of the control plane ensures
FLAVORS = (
    Flavor("dcn.tiny", vcpus=1, ram=256, disk=1),
    Flavor("dcn.small", vcpus=1, ram=512, disk=2),
)


def segment_name(network: str, site: str) -> str:
    """A segment's name and its subnet's: the network and the site."""
    return f"{network}-{site}"


def default_pools(cidr: str, gateway: str) -> list[dict[str, str]]:
    """The pools neutron makes when none are given (its ``generate_pools``): the
    subnet less its network address, the IPv4 broadcast address and the gateway."""
    net = netaddr.IPNetwork(cidr)
    first, last = net.first + 1, net.last - (net.version == 4)
    if first > last:
        return []
    hosts = netaddr.IPSet(netaddr.IPRange(first, last))
    hosts.remove(netaddr.IPAddress(gateway))
    return [{"start": str(r[0]), "end": str(r[-1])} for r in hosts.iter_ipranges()]


def subnet_spec(
    name: str, cidr: str, gateway: str, pools: list[dict[str, str]] | None, dhcp: bool
) -> dict[str, Any]:
    net = ipaddress.ip_network(cidr)
    gateway = str(ipaddress.ip_address(gateway))
    return {
        "name": name,
        "cidr": str(net),
        "ip_version": net.version,
        "gateway_ip": gateway,
        "allocation_pools": pools if pools is not None else default_pools(str(net), gateway),
        "enable_dhcp": dhcp,
    }


def _pools(seg: Segment | TenantNetwork) -> list[dict[str, str]] | None:
    if seg.allocation_pools is None:
        return None
    return [
        {"start": str(ipaddress.ip_address(p.start)), "end": str(ipaddress.ip_address(p.end))}
        for p in seg.allocation_pools
    ]


def provider_spec(net: ProviderNetwork) -> dict[str, Any]:
    """A routed provider network: neutron creates it with its first segment's provider
    attributes, then every other segment; each segment's subnet is bound to it."""
    return {
        "name": net.name,
        "kind": "provider",
        "shared": net.shared,
        "segments": [
            {
                "name": segment_name(net.name, seg.site),
                "site": seg.site,
                "network_type": seg.network_type,
                "physical_network": seg.physical_network,
                "segmentation_id": seg.vlan if seg.network_type == "vlan" else None,
                "subnet": subnet_spec(
                    segment_name(net.name, seg.site),
                    seg.subnet,
                    seg.gateway_ip,
                    _pools(seg),
                    seg.dhcp,
                ),
            }
            for seg in net.segments
        ],
    }


def tenant_spec(net: TenantNetwork) -> dict[str, Any]:
    """A geneve network (neutron allocates its VNI) with one subnet of its name."""
    return {
        "name": net.name,
        "kind": "tenant",
        "shared": net.shared,
        "network_type": net.network_type,
        "subnet": subnet_spec(net.name, net.cidr, net.gateway_ip, _pools(net), net.dhcp),
    }


def spec(deployment: Deployment) -> dict[str, Any]:
    """Every workload network of the description (the segments of every site, deployed
    or not: a neutron segment needs no host) and dcn's flavors, as plain JSON."""
    networks = [
        provider_spec(net) if isinstance(net, ProviderNetwork) else tenant_spec(net)
        for net in deployment.workload_networks
    ]
    return {"networks": networks, "flavors": [asdict(f) for f in FLAVORS]}
