"""The spec the control plane's deploy hands to dcn.node.workload_networks: every
workload network of the description, explicit (names, gateways, pools, DHCP), and the
flavors a normal project can boot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dcn.deploy.networks import FLAVORS, default_pools, spec
from dcn.model.description import Deployment

WORKLOAD = Path(__file__).resolve().parents[1] / "fixtures" / "workload-networks.yaml"


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return Deployment.model_validate(yaml.safe_load(WORKLOAD.read_text()))


@pytest.fixture(scope="module")
def built(deployment: Deployment) -> dict:
    return spec(deployment)


def test_the_spec_is_plain_json(built: dict) -> None:
    assert json.loads(json.dumps(built)) == built
    assert set(built) == {"networks", "flavors"}


def test_the_routed_provider_network_has_a_segment_per_site_in_order(built: dict) -> None:
    provider = built["networks"][0]
    assert (provider["name"], provider["kind"], provider["shared"]) == (
        "edge-provider",
        "provider",
        True,
    )
    got = [
        (s["name"], s["site"], s["network_type"], s["physical_network"], s["segmentation_id"])
        for s in provider["segments"]
    ]
    assert got == [
        ("edge-provider-dcn0", "dcn0", "vlan", "physnet-dcn0", 100),
        ("edge-provider-dcn1", "dcn1", "flat", "physnet-dcn1", None),
        ("edge-provider-dcn2", "dcn2", "vlan", "dcn2-uplink", 100),
    ]


def test_a_segment_subnet_defaults_to_its_first_host_and_the_rest_as_pool(built: dict) -> None:
    subnet = built["networks"][0]["segments"][0]["subnet"]
    assert subnet == {
        "name": "edge-provider-dcn0",
        "cidr": "198.18.64.0/24",
        "ip_version": 4,
        "gateway_ip": "198.18.64.1",
        "allocation_pools": [{"start": "198.18.64.2", "end": "198.18.64.254"}],
        "enable_dhcp": True,
    }


def test_a_segment_subnet_keeps_what_the_description_sets(built: dict) -> None:
    subnet = built["networks"][0]["segments"][1]["subnet"]
    assert subnet["gateway_ip"] == "198.18.65.254"
    assert subnet["allocation_pools"] == [{"start": "198.18.65.10", "end": "198.18.65.200"}]
    assert subnet["enable_dhcp"] is True


def test_a_tenant_network_is_geneve_with_one_subnet_of_its_name(built: dict) -> None:
    tenant = built["networks"][1]
    assert tenant["kind"] == "tenant" and tenant["network_type"] == "geneve"
    assert tenant["subnet"]["name"] == "overlay"
    assert tenant["subnet"]["cidr"] == "10.77.0.0/24"
    assert tenant["subnet"]["gateway_ip"] == "10.77.0.1"
    assert tenant["subnet"]["allocation_pools"] == [{"start": "10.77.0.2", "end": "10.77.0.254"}]


def test_flavors_are_public_with_a_disk_even_without_workload_networks(
    deployment: Deployment,
) -> None:
    bare = spec(deployment.model_copy(update={"workload_networks": []}))
    assert bare["networks"] == []
    assert bare["flavors"] == spec(deployment)["flavors"]
    assert bare["flavors"] and len(bare["flavors"]) == len(FLAVORS)
    for flavor in bare["flavors"]:
        assert flavor["disk"] > 0 and flavor["is_public"] is True
        assert flavor["vcpus"] >= 1 and flavor["ram"] >= 64


def test_default_pools_leave_out_the_gateway_as_neutron_does() -> None:
    assert default_pools("10.0.0.0/29", "10.0.0.3") == [
        {"start": "10.0.0.1", "end": "10.0.0.2"},
        {"start": "10.0.0.4", "end": "10.0.0.6"},
    ]
    assert default_pools("10.0.0.0/30", "10.0.0.2") == [{"start": "10.0.0.1", "end": "10.0.0.1"}]
    # IPv6 has no broadcast address: the last address is a host
    assert default_pools("fd00:1::/126", "fd00:1::1") == [
        {"start": "fd00:1::2", "end": "fd00:1::3"}
    ]
