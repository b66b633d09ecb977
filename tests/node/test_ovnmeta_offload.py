"""dcn.node.ovnmeta_offload's decisions, with the node's commands stood in for: which
namespaces and veths it touches, once each, only on the userspace datapath, and how
little it runs when nothing changed."""

from __future__ import annotations

import json

import pytest

from dcn.node import ovnmeta_offload as off

NETWORK = "ovnmeta-6f0c7a2e-1b1c-4d55-9a1e-2c3f4b5a6d7e"


def ip_links(*links: tuple[str, int]) -> str:
    """What ``ip -j link show type veth`` prints (the fields read, and a few others)."""
    return json.dumps(
        [
            {"ifindex": index, "link_index": index - 1, "ifname": name, "mtu": 1442}
            for name, index in links
        ]
    )


class Node:
    """The node's namespaces, veths and br-int datapath; records every command."""

    def __init__(self, datapath: str = '"netdev"') -> None:
        self.datapath = datapath
        self.namespaces: dict[str, list[tuple[str, int]]] = {}
        self.calls: list[list[str]] = []
        self.failing: set[str] = set()

    def names(self) -> list[str]:
        return [*self.namespaces, "dcn-leaf-0", "qdhcp-x"]

    def run(self, argv: list[str]) -> tuple[int, str]:
        self.calls.append(argv)
        if argv[0] == "ovs-vsctl":
            return (0, self.datapath + "\n") if self.datapath else (1, "")
        if argv[:2] == ["ip", "-j"]:
            return 0, ip_links(*self.namespaces[argv[3]])
        if argv[:3] == ["ip", "netns", "exec"] and argv[4] == "ethtool":
            return (1, "") if argv[6] in self.failing else (0, "")
        raise AssertionError(argv)

    def ethtool(self) -> list[tuple[str, str]]:
        return [(c[3], c[6]) for c in self.calls if "ethtool" in c]

    def offloader(self) -> off.Offloader:
        return off.Offloader(run=self.run, list_names=self.names)


def test_only_the_metadata_agents_namespaces() -> None:
    names = ["dcn-spine", NETWORK, "ovnmeta-", "qrouter-1", "ovnmeta-b"]
    assert off.metadata_namespaces(names) == [NETWORK, "ovnmeta-b"]


@pytest.mark.parametrize(
    ("output", "expected"), [('"netdev"\n', "netdev"), ("netdev\n", "netdev"), ('""\n', "")]
)
def test_the_datapath_type_as_ovs_vsctl_prints_it(output: str, expected: str) -> None:
    assert off.datapath_type(output) == expected


def test_veths_by_name_and_index() -> None:
    assert off.veths(ip_links(("tap6f0c7a2e-11", 7))) == {"tap6f0c7a2e-11": 7}
    assert off.veths("") == {}
    assert off.veths("[ ]") == {}


def test_tx_off_once_per_veth_on_the_userspace_datapath() -> None:
    node = Node()
    node.namespaces[NETWORK] = [("tap6f0c7a2e-11", 7)]
    offloader = node.offloader()
    assert offloader.round() == [f"{NETWORK} tap6f0c7a2e-11"]
    assert node.calls[-1] == [
        *("ip", "netns", "exec", NETWORK),
        *("ethtool", "-K", "tap6f0c7a2e-11", "tx", "off"),
    ]
    node.calls.clear()
    for _ in range(5):
        assert offloader.round() == []
    # nothing new: one look at the known namespace a round, br-int not asked again
    assert node.ethtool() == []
    assert all(c[:2] == ["ip", "-j"] for c in node.calls) and len(node.calls) == 5


@pytest.mark.parametrize("datapath", ['"system"', '""', ""])
def test_nothing_on_the_kernel_datapath_or_without_br_int(datapath: str) -> None:
    node = Node(datapath)
    node.namespaces[NETWORK] = [("tap6f0c7a2e-11", 7)]
    offloader = node.offloader()
    assert offloader.round() == [] and offloader.round() == []
    assert node.ethtool() == []
    assert {c[0] for c in node.calls} == {"ovs-vsctl"}


def test_nothing_runs_without_metadata_namespaces() -> None:
    node = Node()
    offloader = node.offloader()
    assert offloader.round() == [] and offloader.round() == []
    assert node.calls == []


def test_a_recreated_veth_is_turned_off_again_and_a_gone_namespace_forgotten() -> None:
    node = Node()
    node.namespaces[NETWORK] = [("tap6f0c7a2e-11", 7)]
    offloader = node.offloader()
    offloader.round()
    node.namespaces[NETWORK] = [("tap6f0c7a2e-11", 9)]  # same name, a new interface
    assert offloader.round() == [f"{NETWORK} tap6f0c7a2e-11"]
    del node.namespaces[NETWORK]
    assert offloader.round() == []
    assert offloader.done == {}


def test_a_failed_ethtool_is_tried_again_next_round() -> None:
    node = Node()
    node.namespaces[NETWORK] = [("tap6f0c7a2e-11", 7)]
    node.failing.add("tap6f0c7a2e-11")
    offloader = node.offloader()
    assert offloader.round() == []
    node.failing.clear()
    assert offloader.round() == [f"{NETWORK} tap6f0c7a2e-11"]


def test_a_namespace_without_its_veth_yet_stays_new() -> None:
    node = Node()
    node.namespaces[NETWORK] = []
    offloader = node.offloader()
    assert offloader.round() == []
    assert NETWORK not in offloader.done
    node.namespaces[NETWORK] = [("tap6f0c7a2e-11", 7)]
    assert offloader.round() == [f"{NETWORK} tap6f0c7a2e-11"]


def test_work_per_round_is_bounded() -> None:
    node = Node()
    for i in range(20):
        node.namespaces[f"ovnmeta-{i:02}"] = [(f"tap{i:02}1", 100 + i)]
    offloader = node.offloader()
    first = offloader.round()
    assert len(first) == off.MAX_NEW
    second = offloader.round()
    # the next new ones, and one known namespace looked at again (nothing to do there)
    assert len(second) == off.MAX_NEW
    assert sorted(offloader.done) == sorted(node.namespaces)[: 2 * off.MAX_NEW]
    offloader.round()
    assert sorted(offloader.done) == sorted(node.namespaces)
    assert len(node.ethtool()) == 20 == len(set(node.ethtool()))


def test_the_datapath_is_asked_again_when_namespaces_change_or_after_a_while() -> None:
    node = Node()
    node.namespaces[NETWORK] = [("tap6f0c7a2e-11", 7)]
    offloader = node.offloader()
    for _ in range(off.DATAPATH_ROUNDS):
        offloader.round()
    asked = [c for c in node.calls if c[0] == "ovs-vsctl"]
    assert len(asked) == 1
    offloader.round()
    node.namespaces["ovnmeta-b"] = [("tapb1", 11)]
    offloader.round()
    assert len([c for c in node.calls if c[0] == "ovs-vsctl"]) == 3
