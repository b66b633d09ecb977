"""The lab's fabric as computed from real site plans: names, addresses, routes.

`dcn.lab.topology.build` is pure, so these tests plan real descriptions (the basic
example and a generated 1 central + 3 edges fleet) and read the ``ip`` commands it
returns; no namespace is created.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import netaddr
import pytest
import yaml

from dcn.errors import DcnError
from dcn.lab import topology
from dcn.lab.topology import IFNAME_MAX, LabTopology
from dcn.plan.types import StackPlan
from dcn.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
BASIC = ROOT / "examples" / "dcn-basic.yaml"
#: the machine's own namespace, as a key next to the lab's namespaces
MACHINE = "<machine>"

LINK_ADD = re.compile(
    r"^link add (?:link \S+ )?name (\S+) type (\S+)(?: peer name (\S+) netns (\S+)| id \d+)?$"
)


def plan_file(path: Path, state_dir: Path) -> list[StackPlan]:
    return [r.plan for r in Workspace(path, state_dir=state_dir).plan(record=False)]


def plan_data(data: dict, tmp: Path) -> list[StackPlan]:
    tmp.mkdir(parents=True, exist_ok=True)
    f = tmp / "dcn.yaml"
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    return plan_file(f, tmp / ".dcn")


def basic_data() -> dict:
    return yaml.safe_load(BASIC.read_text())


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fleet")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "generate.py"),
            *("--edges", "3", "--computes", "4", "--controllers", "3"),
            *("--out", str(out)),
        ],
        check=True,
        capture_output=True,
    )
    return out / "dcn.yaml"


@pytest.fixture(scope="module", params=["basic", "fleet"])
def case(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, list[StackPlan], LabTopology]:
    if request.param == "basic":
        deployment, path = "lab", BASIC
    else:
        deployment, path = "fleet", request.getfixturevalue("fleet_file")
    plans = plan_file(path, tmp_path_factory.mktemp("state"))
    return deployment, plans, topology.build(deployment, plans)


def interfaces_by_namespace(topo: LabTopology) -> dict[str, list[str]]:
    """Every interface the commands create, per namespace (duplicates kept)."""
    found: dict[str, list[str]] = defaultdict(list)
    sources = [(ns, cmds) for ns, cmds in topo.links.items()] + [(MACHINE, topo.host)]
    for ns, cmds in sources:
        for cmd in cmds:
            if not cmd.startswith("link add"):
                continue
            m = LINK_ADD.match(cmd)
            assert m, f"unexpected link command in {ns}: {cmd}"
            name, kind, peer, peer_ns = m.groups()
            found[ns].append(name)
            if kind == "veth":
                assert peer and peer_ns, cmd
                found[peer_ns].append(peer)
    return found


def all_commands(topo: LabTopology) -> list[str]:
    cmds = list(topo.host)
    for ns in topo.namespaces:
        cmds += topo.links.get(ns, []) + topo.config.get(ns, [])
    return cmds


def first_controller(plan: StackPlan):
    return next(n for n in plan.nodes if n.role == "Controller")


def ipv4_leaf_cidrs(plans: Sequence[StackPlan]) -> list[str]:
    return [s.cidr for p in plans for s in p.network.subnets.values() if s.ip_version == 4]


# -- names --------------------------------------------------------------------------


def test_interface_names_are_short_and_unique_per_namespace(case) -> None:
    _, _, topo = case
    found = interfaces_by_namespace(topo)
    assert set(topo.namespaces) <= set(found), "a namespace without interfaces"
    for ns, names in found.items():
        too_long = [n for n in names if len(n) > IFNAME_MAX]
        assert not too_long, f"{ns}: names longer than {IFNAME_MAX}: {too_long}"
        dupes = sorted({n for n in names if names.count(n) > 1})
        assert not dupes, f"{ns}: interface names created twice: {dupes}"
        assert "lo" not in names


def test_every_device_used_is_created_in_its_namespace(case) -> None:
    _, _, topo = case
    found = interfaces_by_namespace(topo)
    configs = [(ns, cmds) for ns, cmds in topo.config.items()] + [(MACHINE, topo.host)]
    for ns, cmds in configs:
        known = {*found[ns], "lo"}
        for cmd in cmds:
            for word in ("dev", "master"):
                for used in re.findall(rf"\b{word} (\S+)", cmd):
                    assert used in known, f"{ns}: '{cmd}' uses {used}, not created there"


def test_namespaces_are_distinct(case) -> None:
    _, plans, topo = case
    assert len(set(topo.namespaces)) == len(topo.namespaces)
    assert len(topo.nodes) == sum(len(p.nodes) for p in plans)
    assert set(topo.leaves) == {p.site for p in plans}


# -- addresses ------------------------------------------------------------------------


def test_every_node_address_is_on_its_interface_with_the_leaf_prefix(case) -> None:
    _, plans, topo = case
    for plan in plans:
        for node in plan.nodes:
            lab_node = topo.node(node.hostname)
            cfg = topo.config[lab_node.netns]
            assert "ctlplane" in node.addresses
            assert lab_node.ssh_address == node.addresses["ctlplane"]
            for net, address in node.addresses.items():
                prefix = netaddr.IPNetwork(plan.network.subnets[net].cidr).prefixlen
                expected = f"addr add {address}/{prefix} dev {net}"
                assert any(c.split(" nodad")[0] == expected for c in cfg), (
                    f"{node.hostname}: no '{expected}' in {cfg}"
                )


def test_the_first_controller_alone_carries_the_vips_or_keepalived_does(case) -> None:
    _, plans, topo = case
    control_plane = next(p for p in plans if p.kind == "control-plane")
    assert control_plane.network.vips, "the control plane has VIPs"
    if control_plane.clustered:
        # keepalived holds them: the lab puts them on no node
        vips = set(control_plane.network.vips.values())
        for lab_node in topo.nodes:
            cfg = " ".join(topo.config[lab_node.netns])
            assert not any(f"addr add {vip}/" in cfg for vip in vips), lab_node.hostname
        return
    controller = first_controller(control_plane)
    cfg = topo.config[topo.node(controller.hostname).netns]
    vip_addresses = set(control_plane.network.vips.values())
    for net, vip in control_plane.network.vips.items():
        bits = 32 if netaddr.IPAddress(vip).version == 4 else 128
        assert any(c.split(" nodad")[0] == f"addr add {vip}/{bits} dev {net}" for c in cfg), (
            f"{controller.hostname} lacks VIP {vip}/{bits} on {net}"
        )
    for lab_node in topo.nodes:
        if lab_node.hostname == controller.hostname:
            continue
        for cmd in topo.config[lab_node.netns]:
            words = cmd.split()
            if words[:2] == ["addr", "add"]:
                assert words[2].split("/")[0] not in vip_addresses, f"{lab_node.hostname}: {cmd}"


def test_each_leaf_has_a_bridge_per_network_with_its_gateway(case) -> None:
    _, plans, topo = case
    for plan in plans:
        leaf = topo.leaves[plan.site]
        links, cfg = topo.links[leaf], topo.config[leaf]
        for net, subnet in plan.network.subnets.items():
            bridge = f"br-{net}"
            assert f"link add name {bridge} type bridge" in links, f"{plan.site}: no {bridge}"
            assert f"link set dev {bridge} up" in cfg
            assert subnet.gateway
            prefix = netaddr.IPNetwork(subnet.cidr).prefixlen
            expected = f"addr add {subnet.gateway}/{prefix} dev {bridge}"
            assert any(c.split(" nodad")[0] == expected for c in cfg), f"{plan.site}: {expected}"


def test_spine_and_machine_route_every_ipv4_leaf(case) -> None:
    _, plans, topo = case
    spine_cfg = topo.config[topo.spine]
    spine_addrs = {
        c.split()[2].split("/")[0]
        for c in spine_cfg
        if c.startswith("addr add") and c.endswith("dev host")
    }
    assert len(spine_addrs) == 1
    for plan in plans:
        leaf_cfg = topo.config[topo.leaves[plan.site]]
        uplink = {
            c.split()[2].split("/")[0]
            for c in leaf_cfg
            if c.startswith("addr add") and c.split()[-1] == "uplink"
        }
        for cidr in ipv4_leaf_cidrs([plan]):
            routes = [c for c in spine_cfg if c.startswith(f"route add {cidr} via ")]
            assert len(routes) == 1, f"spine routes for {cidr}: {routes}"
            assert routes[0].split()[-1] in uplink, f"{routes[0]}: not via {plan.site}'s leaf"
            host_routes = [c for c in topo.host if c.startswith(f"route add {cidr} via ")]
            assert host_routes == [f"route add {cidr} via {next(iter(spine_addrs))}"]


def test_machine_link_is_point_to_point_with_the_spine(case) -> None:
    deployment, _, topo = case
    assert topo.host[0].startswith(f"link add name {topo.host_link} type veth peer name host")
    assert topo.host[0].endswith(f"netns {topo.spine}")
    assert topo.spine == f"dcn-{deployment}-spine"
    assert topo.spine in topo.routers
    assert set(topo.leaves.values()) <= set(topo.routers)


def test_no_command_uses_the_machines_own_range(case) -> None:
    _, _, topo = case
    offending = [c for c in all_commands(topo) if "192.0.2." in c]
    assert not offending


def test_build_is_deterministic(case) -> None:
    deployment, plans, topo = case
    again = topology.build(deployment, plans)
    assert again == topo
    assert all_commands(again) == all_commands(topo)


def test_planning_again_builds_the_same_fabric(tmp_path: Path) -> None:
    first = topology.build("lab", plan_file(BASIC, tmp_path / "a"))
    second = topology.build("lab", plan_file(BASIC, tmp_path / "b"))
    assert first == second


# -- reserved ranges ------------------------------------------------------------------


@pytest.mark.parametrize(("site", "net"), [("central", "external"), ("dcn1", "storage")])
def test_leaf_overlapping_the_lab_links_is_refused(tmp_path: Path, site: str, net: str) -> None:
    data = basic_data()
    data["networks"][net]["supernet"] = "198.19.240.0/20"
    for index, s in enumerate(data["sites"]):
        if net in s["networks"]:
            third = 255 if s["name"] == site else 240 + index
            s["networks"][net] = {"cidr": f"198.19.{third}.0/24", "gateway": f"198.19.{third}.1"}
    plans = plan_data(data, tmp_path)
    with pytest.raises(DcnError) as exc:
        topology.build("lab", plans)
    assert f"site {site}" in str(exc.value)
    assert "198.19.255.0/24" in str(exc.value)


# -- descriptions the example does not cover -------------------------------------------


def test_long_site_names_sharing_a_prefix_get_distinct_uplinks(tmp_path: Path) -> None:
    """Spine uplinks are named after the site, cut to 15 characters."""
    data = basic_data()
    data["sites"][1]["name"] = "edge-site-0001"
    data["sites"][2]["name"] = "edge-site-0002"
    data.pop("workload_networks")
    topo = topology.build("lab", plan_data(data, tmp_path))
    names = interfaces_by_namespace(topo)[topo.spine]
    assert len(set(names)) == len(names), f"spine interfaces: {names}"


def test_vips_go_to_the_controller_when_another_role_is_listed_first(tmp_path: Path) -> None:
    data = basic_data()
    data["sites"][0]["roles"] = {"Compute": {"count": 1}, "Controller": {"count": 1}}
    plans = plan_data(data, tmp_path)
    assert plans[0].nodes[0].role == "Compute"
    topo = topology.build("lab", plans)
    controller = first_controller(plans[0])
    addrs = {a for lst in topo.node(controller.hostname).interfaces.values() for a in lst}
    for vip in plans[0].network.vips.values():
        assert f"{vip}/32" in addrs, f"VIP {vip} not on {controller.hostname}"


# -- provider segments --------------------------------------------------------------


def test_each_edge_leaf_holds_its_segment_gateway_and_its_computes_provider_nic(
    tmp_path: Path,
) -> None:
    plans = plan_data(basic_data(), tmp_path)
    topo = topology.build("basic", plans)
    for plan in plans:
        leaf = topo.leaves[plan.site]
        segments = plan.network.provider_segments
        if plan.kind == "control-plane":
            assert not segments
            assert f"link add name {topology.PROVIDER_BRIDGE} type bridge" not in topo.links[leaf]
            continue
        assert segments and plan.network.provider_interface == "provider"
        for seg in segments:
            prefix = seg.cidr.split("/")[1]
            assert (
                f"addr add {seg.gateway}/{prefix} dev {topology.PROVIDER_BRIDGE}"
                in (topo.config[leaf])
            )
            # other sites reach the segment through the spine, routed to this leaf
            assert any(c.startswith(f"route add {seg.cidr} via") for c in topo.config[topo.spine])
        for node in plan.nodes:
            ns = topology.netns_name("basic", node.hostname)
            assert any(c.startswith("link add name provider type veth") for c in topo.links[ns])
            assert "link set dev provider up" in topo.config[ns]
            # no address: it is a port of the node's br-provider
            assert not any("dev provider" in c and "addr add" in c for c in topo.config[ns])
        assert len(topo.no_tx_offload[leaf]) == len(plan.nodes)


def test_a_vlan_segment_gets_its_gateway_on_the_vlan(tmp_path: Path) -> None:
    data = basic_data()
    data["workload_networks"][0]["segments"][1] = {
        "site": "dcn1",
        "network_type": "vlan",
        "vlan": 120,
        "subnet": "198.18.65.0/24",
    }
    plans = plan_data(data, tmp_path)
    topo = topology.build("basic", plans)
    leaf = topo.leaves["dcn1"]
    vlan_dev = f"{topology.PROVIDER_BRIDGE}.120"
    assert (
        f"link add link {topology.PROVIDER_BRIDGE} name {vlan_dev} type vlan id 120"
        in (topo.links[leaf])
    )
    assert f"addr add 198.18.65.1/24 dev {vlan_dev}" in topo.config[leaf]


def test_no_provider_nic_no_wiring(tmp_path: Path) -> None:
    data = basic_data()
    for site in data["sites"]:
        site.get("sdn", {}).pop("provider_interface", None)
    plans = plan_data(data, tmp_path)
    topo = topology.build("basic", plans)
    assert not topo.no_tx_offload
    assert not any("provider" in c for cmds in topo.links.values() for c in cmds)


def test_a_node_added_to_a_site_leaves_every_other_part_as_it_was(tmp_path: Path) -> None:
    """Scale-out in a running lab: the new node is one more part; the other nodes' and
    the leaves' commands are the same as before, so nothing running is touched."""
    data = basic_data()
    before = topology.build("lab", plan_data(data, tmp_path / "a"))
    data["sites"][1]["roles"]["DistributedCompute"]["count"] = 2
    after = topology.build("lab", plan_data(data, tmp_path / "b"))
    new = set(after.parts) - set(before.parts)
    assert new == {topology.node_part("dcn0-distributedcompute-1")}
    for key, part in before.parts.items():
        assert after.parts[key] == part, key
    added = after.parts[topology.node_part("dcn0-distributedcompute-1")]
    assert added.namespaces == ["dcn-lab-dcn0-distributedcompute-1"]
    # its links to the leaf do not reuse a name an existing node's links have
    leaf = after.leaves["dcn0"]
    existing = {
        c.split()[-3]
        for p in before.parts.values()
        for c in p.links.get(leaf, [])
        + [c2 for ns, cmds in p.links.items() for c2 in cmds if c2.endswith(f"netns {leaf}")]
    }
    ours = {c.split()[-3] for c in added.links["dcn-lab-dcn0-distributedcompute-1"]}
    assert ours and not ours & existing


def test_each_node_is_a_part_of_its_own(tmp_path: Path) -> None:
    topo = topology.build("lab", plan_file(BASIC, tmp_path))
    for node in topo.nodes:
        part = topo.parts[topology.node_part(node.hostname)]
        assert part.namespaces == [node.netns]
        assert not part.routers
    sites = [k for k in topo.parts if k and not k.startswith("node:")]
    assert sites == ["central", "dcn0", "dcn1"]
