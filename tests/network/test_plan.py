"""Address plan properties: unique, inside the subnet and pool, stable, sticky, EUI-64."""

from __future__ import annotations

import ipaddress

import netaddr
from hypothesis import given, settings
from hypothesis import strategies as st

from dcn.model.description import parse
from dcn.model.nodes import expand
from dcn.network import eui64_address, plan_site_network


def deployment(count: int, prefix: int, scale_out: int = 0) -> dict:
    roles = {"DistributedCompute": {"count": count}}
    if scale_out:
        roles["DistributedComputeScaleOut"] = {"count": scale_out}
    nets = {
        "ctlplane": {"cidr": f"198.18.1.0/{prefix}", "gateway": "198.18.1.1"},
        "internal_api": {"cidr": f"198.18.17.0/{prefix}", "gateway": "198.18.17.1"},
        "tenant": {"cidr": "fd00:dc:1:1::/64", "gateway": "fd00:dc:1:1::1"},
        "storage": {"cidr": f"198.18.33.0/{prefix}", "gateway": "198.18.33.1"},
    }
    central = {
        "ctlplane": {"cidr": "198.18.0.0/24", "gateway": "198.18.0.1"},
        "internal_api": {"cidr": "198.18.16.0/24", "gateway": "198.18.16.1"},
        "tenant": {"cidr": "fd00:dc:1:0::/64", "gateway": "fd00:dc:1:0::1"},
        "storage": {"cidr": "198.18.32.0/24", "gateway": "198.18.32.1"},
        "external": {"cidr": "198.18.48.0/24", "gateway": "198.18.48.1"},
    }
    return {
        "name": "t",
        "networks": {
            "ctlplane": {},
            "internal_api": {},
            "storage": {},
            "external": {},
            "tenant": {"ip_version": 6, "ipv6_address_mode": "slaac"},
        },
        "sites": [
            {
                "name": "central",
                "kind": "control-plane",
                "roles": {"Controller": {"count": 1}},
                "networks": central,
            },
            {"name": "edge", "kind": "edge", "roles": roles, "networks": nets},
        ],
    }


def plan(data: dict, pinned: dict | None = None):
    dep = parse(data)
    site = dep.site("edge")
    return plan_site_network(dep, site, expand(site, dep.name), pinned)


@settings(max_examples=40, deadline=None)
@given(count=st.integers(1, 20), scale_out=st.integers(0, 5))
def test_unique_inside_subnet_and_stable(count: int, scale_out: int) -> None:
    data = deployment(count, 26, scale_out)
    first, second = plan(data), plan(data)
    assert first == second
    for net, subnet in first.subnets.items():
        cidr = ipaddress.ip_network(subnet.cidr)
        ips = [n.addresses[net] for n in first.nodes.values() if net in n.addresses]
        assert len(ips) == len(set(ips)) == count + scale_out
        assert all(ipaddress.ip_address(ip) in cidr for ip in ips)
        assert subnet.gateway not in ips
        assert str(cidr.network_address) not in ips


@settings(max_examples=30, deadline=None)
@given(count=st.integers(1, 15), more=st.integers(1, 5))
def test_scaling_out_keeps_every_existing_address(count: int, more: int) -> None:
    before = plan(deployment(count, 26))
    pinned = {h: dict(n.addresses) for h, n in before.nodes.items()}
    after = plan(deployment(count + more, 26), pinned)
    for host, node in before.nodes.items():
        assert after.nodes[host].addresses == node.addresses


@given(mac=st.binary(min_size=6, max_size=6))
def test_eui64_matches_netaddr(mac: bytes) -> None:
    text = ":".join(f"{b:02x}" for b in mac)
    expected = str(netaddr.EUI(text).ipv6(netaddr.IPNetwork("fd00:dc:1:1::/64").first))
    assert ipaddress.ip_address(eui64_address("fd00:dc:1:1::/64", text)) == ipaddress.ip_address(
        expected
    )


def test_edge_routes_to_central_and_central_to_edges() -> None:
    dep = parse(deployment(2, 26))
    edge = plan_site_network(dep, dep.site("edge"), expand(dep.site("edge"), "t"))
    assert [(r.destination, r.nexthop) for r in edge.subnets["internal_api"].routes] == [
        ("198.18.16.0/24", "198.18.17.1")
    ]
    cp = dep.site("central")
    central = plan_site_network(dep, cp, expand(cp, "t"))
    assert [r.destination for r in central.subnets["internal_api"].routes] == ["198.18.17.0/26"]
    assert set(central.vips) == {"ctlplane", "internal_api", "storage", "external"}
    assert central.vips["internal_api"] == "198.18.16.2"
