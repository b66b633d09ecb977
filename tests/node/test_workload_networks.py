"""The decisions of dcn.node.workload_networks, on plain data: what to create, what to
update in place, what to refuse, and that a matching cloud needs nothing.

The cloud is never imitated here: each test states what neutron and nova hold (the
plain data ``read_state`` makes of them) and checks the plan. The real calls run in
the lab's end-to-end test.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcn.deploy.networks import spec
from dcn.model.description import Deployment
from dcn.node import workload_networks as wn

WORKLOAD = Path(__file__).resolve().parents[1] / "fixtures" / "workload-networks.yaml"


@pytest.fixture(scope="module")
def wanted() -> dict[str, Any]:
    return spec(Deployment.model_validate(yaml.safe_load(WORKLOAD.read_text())))


def empty(spec_: dict[str, Any]) -> dict[str, Any]:
    return {
        "networks": {
            n["name"]: {"networks": [], "segments": [], "subnets": []} for n in spec_["networks"]
        },
        "flavors": [],
    }


def subnet_state(subnet: dict[str, Any], id_: str, segment_id: str | None) -> dict[str, Any]:
    keep = ("name", "cidr", "gateway_ip", "allocation_pools", "enable_dhcp")
    return {"id": id_, "segment_id": segment_id, **{k: copy.deepcopy(subnet[k]) for k in keep}}


def converged(spec_: dict[str, Any]) -> dict[str, Any]:
    """What the cloud holds once the spec is applied (as read_state reads it)."""
    state = empty(spec_)
    for net in spec_["networks"]:
        entry = state["networks"][net["name"]]
        entry["networks"] = [{"id": f"net-{net['name']}", "name": net["name"], "shared": True}]
        if net["kind"] == "provider":
            for seg in net["segments"]:
                entry["segments"].append(
                    {
                        "id": f"seg-{seg['name']}",
                        **{k: seg[k] for k in ("name", *wn.SEGMENT_FIXED)},
                    }
                )
                entry["subnets"].append(
                    subnet_state(seg["subnet"], f"sub-{seg['name']}", f"seg-{seg['name']}")
                )
        else:
            entry["segments"] = [
                {
                    "id": "seg-g",
                    "name": None,
                    "network_type": "geneve",
                    "physical_network": None,
                    "segmentation_id": 7,
                }
            ]
            entry["subnets"] = [subnet_state(net["subnet"], "sub-overlay", None)]
    state["flavors"] = [dict(f) for f in spec_["flavors"]]
    return state


def described(plan: wn.Plan) -> list[str]:
    return [f"{a.op} {a.describe()}" for a in plan.actions]


def test_a_cloud_that_matches_needs_nothing(wanted: dict) -> None:
    plan = wn.plan_all(wanted, converged(wanted))
    assert (plan.actions, plan.conflicts, plan.kept) == ([], [], [])


def test_an_empty_cloud_gets_the_networks_with_their_first_segment_and_the_flavors(
    wanted: dict,
) -> None:
    plan = wn.plan_all(wanted, empty(wanted))
    assert not plan.conflicts
    assert described(plan) == [
        "create network edge-provider",
        "create network overlay",
        "create flavor dcn.tiny",
        "create flavor dcn.small",
    ]
    provider, tenant = plan.actions[0].attrs, plan.actions[1].attrs
    assert provider == {
        "name": "edge-provider",
        "shared": True,
        "provider:network_type": "vlan",
        "provider:physical_network": "physnet-dcn0",
        "provider:segmentation_id": 100,
    }
    assert tenant == {"name": "overlay", "shared": True, "provider:network_type": "geneve"}
    tiny = plan.actions[2].attrs
    assert tiny["disk"] > 0 and tiny["is_public"] is True


def test_a_new_network_gets_its_first_segment_named_the_others_and_the_first_subnet(
    wanted: dict,
) -> None:
    state = converged(wanted)
    net = state["networks"]["edge-provider"]
    # as neutron leaves it after creating the network: one unnamed segment, no subnet
    net["segments"] = [
        {
            "id": "implicit",
            "name": None,
            "network_type": "vlan",
            "physical_network": "physnet-dcn0",
            "segmentation_id": 100,
        }
    ]
    net["subnets"] = []
    plan = wn.plan_all(wanted, state)
    assert not plan.conflicts
    assert described(plan) == [
        "update segment edge-provider-dcn0: name",
        "create subnet edge-provider-dcn0",
        "create segment edge-provider-dcn1",
        "create segment edge-provider-dcn2",
    ]
    rename, subnet, flat, vlan = plan.actions
    assert rename.id == "implicit"
    assert subnet.attrs["segment_id"] == "implicit"
    assert subnet.attrs["network_id"] == "net-edge-provider"
    assert subnet.attrs["gateway_ip"] == "198.18.64.1" and subnet.attrs["enable_dhcp"] is True
    # neutron takes no null segmentation id: a flat segment has none at all
    assert flat.attrs == {
        "name": "edge-provider-dcn1",
        "network_type": "flat",
        "physical_network": "physnet-dcn1",
        "network_id": "net-edge-provider",
    }
    assert vlan.attrs["segmentation_id"] == 100


def test_a_subnet_waits_for_its_segment(wanted: dict) -> None:
    state = converged(wanted)
    net = state["networks"]["edge-provider"]
    net["segments"] = [s for s in net["segments"] if s["name"] != "edge-provider-dcn2"]
    net["subnets"] = [s for s in net["subnets"] if s["name"] != "edge-provider-dcn2"]
    assert described(wn.plan_all(wanted, state)) == ["create segment edge-provider-dcn2"]
    net["segments"].append({**wn_segment(wanted, 2), "id": "new"})
    plan = wn.plan_all(wanted, state)
    assert described(plan) == ["create subnet edge-provider-dcn2"]
    assert plan.actions[0].attrs["segment_id"] == "new"


def wn_segment(wanted: dict, index: int) -> dict[str, Any]:
    seg = wanted["networks"][0]["segments"][index]
    return {k: seg[k] for k in ("name", *wn.SEGMENT_FIXED)}


def test_gateway_pools_dhcp_and_sharing_are_updated_in_place(wanted: dict) -> None:
    state = converged(wanted)
    net = state["networks"]["edge-provider"]
    net["networks"][0]["shared"] = False
    sub = net["subnets"][1]
    sub["gateway_ip"], sub["enable_dhcp"] = "198.18.65.1", False
    sub["allocation_pools"] = [{"start": "198.18.65.2", "end": "198.18.65.254"}]
    plan = wn.plan_all(wanted, state)
    assert not plan.conflicts
    assert described(plan) == [
        "update network edge-provider: shared",
        "update subnet edge-provider-dcn1: allocation_pools, enable_dhcp, gateway_ip",
    ]
    update = plan.actions[1]
    assert update.id == "sub-edge-provider-dcn1"
    assert update.attrs == {
        "gateway_ip": "198.18.65.254",
        "allocation_pools": [{"start": "198.18.65.10", "end": "198.18.65.200"}],
        "enable_dhcp": True,
    }


def test_addresses_compare_by_value_not_by_spelling() -> None:
    wanted = {
        "name": "v6",
        "cidr": "fd00:0:0:1::/64",
        "gateway_ip": "fd00:0:0:1::1",
        "allocation_pools": [
            {"start": "fd00::1:0:0:0:2", "end": "fd00::1:0:0:0:9"},
            {"start": "fd00:0:0:1::20", "end": "fd00:0:0:1::30"},
        ],
        "enable_dhcp": True,
    }
    have = {
        "id": "s",
        "segment_id": "g",
        "name": "v6",
        "cidr": "fd00:0:0:1::/64",
        "gateway_ip": "fd00:0:0:1::1",
        "allocation_pools": [
            {"start": "fd00:0:0:1::20", "end": "fd00:0:0:1::30"},
            {"start": "fd00:0:0:1::2", "end": "fd00:0:0:1::9"},
        ],
        "enable_dhcp": True,
    }
    plan = wn.plan_subnet({"id": "n", "name": "v6"}, wanted, have, "g", True)
    assert (plan.actions, plan.conflicts) == ([], [])


def test_a_subnet_made_by_hand_is_found_by_its_cidr_and_named(wanted: dict) -> None:
    state = converged(wanted)
    state["networks"]["overlay"]["subnets"][0]["name"] = "by-hand"
    plan = wn.plan_all(wanted, state)
    assert described(plan) == ["update subnet overlay: name"]
    assert plan.actions[0].attrs == {"name": "overlay"} and not plan.kept


@pytest.mark.parametrize(
    ("field", "value"),
    [("segmentation_id", 101), ("physical_network", "physnet-other"), ("network_type", "flat")],
)
def test_a_segment_neutron_cannot_change_is_refused(wanted: dict, field: str, value: Any) -> None:
    state = converged(wanted)
    state["networks"]["edge-provider"]["segments"][0][field] = value
    plan = wn.plan_all(wanted, state)
    (conflict,) = plan.conflicts
    assert (conflict.kind, conflict.name, conflict.field) == (
        "segment",
        "edge-provider-dcn0",
        field,
    )
    text = str(conflict)
    assert "edge-provider-dcn0" in text and field in text
    assert "delete the segment" in text and "change the description back" in text
    assert (
        "openstack subnet delete sub-edge-provider-dcn0, "
        "then openstack network segment delete seg-edge-provider-dcn0"
    ) in text


def test_a_subnet_cidr_is_refused_never_replaced(wanted: dict) -> None:
    state = converged(wanted)
    state["networks"]["edge-provider"]["subnets"][2]["cidr"] = "198.18.70.0/24"
    plan = wn.plan_all(wanted, state)
    (conflict,) = plan.conflicts
    assert (conflict.kind, conflict.name, conflict.field) == (
        "subnet",
        "edge-provider-dcn2",
        "cidr",
    )
    assert "openstack subnet delete sub-edge-provider-dcn2" in str(conflict)
    assert not [a for a in plan.actions if a.kind == "subnet"]


def test_a_subnet_on_no_segment_is_refused(wanted: dict) -> None:
    state = converged(wanted)
    state["networks"]["edge-provider"]["subnets"][0]["segment_id"] = None
    (conflict,) = wn.plan_all(wanted, state).conflicts
    assert conflict.field == "segment_id" and conflict.name == "edge-provider-dcn0"


def test_a_subnet_whose_segment_is_missing_is_refused_before_anything_changes(
    wanted: dict,
) -> None:
    state = converged(wanted)
    net = state["networks"]["edge-provider"]
    net["segments"] = [s for s in net["segments"] if s["name"] != "edge-provider-dcn1"]
    net["subnets"][1]["segment_id"] = None
    (conflict,) = wn.plan_all(wanted, state).conflicts
    assert conflict.field == "segment_id" and "to be created" in str(conflict)


def test_a_tenant_network_that_is_not_geneve_is_refused(wanted: dict) -> None:
    state = converged(wanted)
    state["networks"]["overlay"]["segments"][0].update(
        network_type="vlan", physical_network="physnet-x", segmentation_id=5
    )
    (conflict,) = wn.plan_all(wanted, state).conflicts
    assert (conflict.kind, conflict.name, conflict.field) == ("network", "overlay", "network_type")
    assert "openstack network delete net-overlay" in str(conflict)


def test_two_subnets_of_the_name_are_refused(wanted: dict) -> None:
    state = converged(wanted)
    subnets = state["networks"]["overlay"]["subnets"]
    subnets.append({**subnets[0], "id": "again", "cidr": "10.1.0.0/24"})
    (conflict,) = wn.plan_all(wanted, state).conflicts
    assert str(conflict) == (
        "subnet overlay: 2 subnets of this name in the cloud; rename or delete all but one "
        "(openstack subnet list --network overlay)"
    )


def test_two_networks_of_the_name_are_refused(wanted: dict) -> None:
    state = converged(wanted)
    nets = state["networks"]["overlay"]["networks"]
    nets.append({**nets[0], "id": "other"})
    plan = wn.plan_all(wanted, state)
    (conflict,) = plan.conflicts
    assert conflict.name == "overlay" and "rename or delete the others" in str(conflict)


def test_what_the_description_does_not_name_is_kept_not_deleted(wanted: dict) -> None:
    state = converged(wanted)
    net = state["networks"]["edge-provider"]
    net["segments"].append(
        {
            "id": "old",
            "name": "edge-provider-gone",
            "network_type": "flat",
            "physical_network": "physnet-gone",
            "segmentation_id": None,
        }
    )
    net["subnets"].append(
        subnet_state(
            {
                "name": "edge-provider-gone",
                "cidr": "198.18.90.0/24",
                "gateway_ip": "198.18.90.1",
                "allocation_pools": [],
                "enable_dhcp": True,
            },
            "old-sub",
            "old",
        )
    )
    plan = wn.plan_all(wanted, state)
    assert (plan.actions, plan.conflicts) == ([], [])
    assert plan.kept == [
        "segment edge-provider-gone of network edge-provider",
        "subnet edge-provider-gone of network edge-provider",
    ]


def test_a_flavor_nova_cannot_change_is_refused(wanted: dict) -> None:
    state = converged(wanted)
    state["flavors"][0]["disk"] = 0
    (conflict,) = wn.plan_all(wanted, state).conflicts
    assert (conflict.kind, conflict.name, conflict.field) == ("flavor", "dcn.tiny", "disk")
    assert str(conflict).startswith("flavor dcn.tiny: disk is 0 in the cloud, 1 in dcn's flavors")
    assert "openstack flavor delete dcn.tiny" in str(conflict)


def test_the_refusal_ends_with_the_first_conflict_and_what_was_done(wanted: dict) -> None:
    state = converged(wanted)
    state["flavors"][0]["disk"] = 0
    state["flavors"][1]["ram"] = 1
    conflicts = wn.plan_all(wanted, state).conflicts
    done = [wn.Action("create", "network", "edge-provider", {})]
    lines = wn.Refused(conflicts, done).report().splitlines()
    assert lines[:2] == [str(c) for c in conflicts]
    assert lines[2] == "already done: network edge-provider"
    assert lines[-1] == f"{conflicts[0]} (and 1 more, above)"


def test_the_summary_names_what_was_created_and_updated() -> None:
    done = [
        wn.Action("create", "network", "n", {"name": "n"}),
        wn.Action("update", "subnet", "n-dcn0", {"gateway_ip": "x", "enable_dhcp": True}, "s"),
    ]
    assert wn.summary(done, ["segment x of network n"]) == {
        "created": ["network n"],
        "updated": ["subnet n-dcn0: enable_dhcp, gateway_ip"],
        "kept": ["segment x of network n"],
    }
