"""The description's SDN default and its workload networks: defaults and strict shape."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from dcn.model.description import (
    Deployment,
    ProviderNetwork,
    Sdn,
    Segment,
    TenantNetwork,
    first_host,
)


def _dep(*networks: dict[str, Any]) -> Deployment:
    return Deployment.model_validate(
        {"name": "x", "networks": {}, "sites": [], "workload_networks": list(networks)}
    )


def _provider(*segments: dict[str, Any]) -> dict[str, Any]:
    return {"name": "edge", "kind": "provider", "segments": list(segments)}


def test_ovn_is_the_default_mechanism_and_the_others_still_parse() -> None:
    assert Sdn().mechanism == "ovn"
    assert Sdn(mechanism="provider").mechanism == "provider"  # DCN405 says what to do
    assert Sdn(mechanism="openvswitch").mechanism == "openvswitch"


def test_no_workload_networks_by_default() -> None:
    assert (
        Deployment.model_validate({"name": "x", "networks": {}, "sites": []}).workload_networks
        == []
    )


def test_segment_defaults() -> None:
    dep = _dep(
        _provider({"site": "dcn0", "network_type": "vlan", "vlan": 10, "subnet": "10.4.0.0/24"})
    )
    net = dep.workload_networks[0]
    assert isinstance(net, ProviderNetwork) and net.shared
    seg = net.segments[0]
    assert (seg.physical_network, seg.gateway_ip, seg.dhcp) == ("physnet-dcn0", "10.4.0.1", True)
    assert seg.gateway is None and seg.allocation_pools is None  # the dump keeps what was written


def test_an_overridden_physnet_and_gateway_are_kept() -> None:
    seg = Segment(
        site="dcn0",
        physnet="uplink",
        network_type="flat",
        subnet="10.4.0.0/24",
        gateway="10.4.0.254",
    )
    assert (seg.physical_network, seg.gateway_ip) == ("uplink", "10.4.0.254")


def test_tenant_defaults() -> None:
    dep = _dep({"name": "t", "kind": "tenant", "cidr": "fd00:5::/64", "sites": ["dcn0"]})
    net = dep.workload_networks[0]
    assert isinstance(net, TenantNetwork)
    assert (net.network_type, net.gateway_ip, net.dhcp) == ("geneve", "fd00:5::1", True)


@pytest.mark.parametrize(
    ("cidr", "first"),
    [("10.0.0.0/24", "10.0.0.1"), ("10.0.0.4/30", "10.0.0.5"), ("fd00::/64", "fd00::1")],
)
def test_first_host(cidr: str, first: str) -> None:
    assert first_host(cidr) == first


@pytest.mark.parametrize(
    ("segment", "words"),
    [
        ({"network_type": "vlan"}, "needs its VLAN id"),
        ({"network_type": "flat", "vlan": 3}, "only for network_type: vlan"),
        ({"network_type": "vlan", "vlan": 0}, "greater than or equal to 1"),
        ({"network_type": "vlan", "vlan": 4095}, "less than or equal to 4094"),
        ({"network_type": "vxlan"}, "'vlan' or 'flat'"),
        ({"network_type": "flat", "physnet": "a,b"}, "should match pattern"),
        ({"network_type": "flat", "dhcp": "yes"}, "valid boolean"),
        ({"network_type": "flat", "site": "d" + "a" * 57}, "neutron keeps 64"),
    ],
)
def test_bad_segments_are_schema_errors(segment: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError) as exc:
        _dep(_provider({"site": "dcn0", "subnet": "10.4.0.0/24", **segment}))
    assert words in str(exc.value)


def test_a_long_site_with_its_own_physnet_is_fine() -> None:
    site = "d" + "a" * 57
    seg = Segment(site=site, physnet="p", network_type="flat", subnet="10.4.0.0/24")
    assert seg.physical_network == "p"


def test_each_kind_has_its_own_fields() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        _dep({"name": "t", "kind": "tenant", "cidr": "10.0.0.0/24", "sites": ["a"], "segments": []})
    with pytest.raises(ValidationError, match="at least 1 item"):
        _dep(_provider())
    with pytest.raises(ValidationError, match="at least 1 item"):
        _dep({"name": "t", "kind": "tenant", "cidr": "10.0.0.0/24", "sites": []})


def test_segments_by_site() -> None:
    dep = _dep(
        _provider(
            {"site": "dcn0", "network_type": "flat", "subnet": "10.4.0.0/24"},
            {"site": "dcn1", "network_type": "flat", "subnet": "10.5.0.0/24"},
        ),
        {"name": "t", "kind": "tenant", "cidr": "10.9.0.0/24", "sites": ["dcn0"]},
    )
    found = dep.segments_by_site()
    assert sorted(found) == ["dcn0", "dcn1"]
    assert [(net.name, seg.subnet) for net, seg in found["dcn1"]] == [("edge", "10.5.0.0/24")]
