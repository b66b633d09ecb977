"""Which member a Galera cluster is bootstrapped from after every member stopped, and
when the clusters count as whole: pure decisions of `dcn.cluster`."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcn.cluster import Member, Position, most_advanced, vip_holders, whole
from dcn.errors import DcnError
from dcn.model.description import parse
from dcn.model.loader import load_yaml
from dcn.plan.stack import plan_control_plane

ROOT = Path(__file__).resolve().parents[2]
UUID = "e8692bbd-eb1e-11f1-8f26-77048f26ca3f"


def test_the_highest_seqno_is_chosen_not_the_first_node() -> None:
    chosen = most_advanced(
        [
            Position("c0", UUID, 2582, "grastate", False),
            Position("c1", UUID, 2590, "wsrep-recover", False),
            Position("c2", UUID, 2579, "grastate", False),
        ]
    )
    assert chosen.node == "c1"


def test_among_equals_the_member_galera_marked_safe_wins() -> None:
    chosen = most_advanced(
        [Position("c0", UUID, 7, "grastate", False), Position("c1", UUID, 7, "grastate", True)]
    )
    assert chosen.node == "c1"


def test_an_unknown_position_or_two_histories_are_refused() -> None:
    with pytest.raises(DcnError, match="unknown"):
        most_advanced([Position("c0", UUID, 7, "grastate", True), Position("c1", UUID, -1, "x", 0)])
    other = "00000000-1111-2222-3333-444444444444"
    with pytest.raises(DcnError, match="different cluster histories"):
        most_advanced([Position("c0", UUID, 7, "grastate", True), Position("c1", other, 9, "g", 0)])


def _member(
    node: str, size: int, vips: tuple[str, ...] = (), running: int = 3, ovn: str = "cluster member"
) -> Member:
    galera = {
        "running": True,
        "wsrep_cluster_size": str(size),
        "wsrep_cluster_status": "Primary",
        "wsrep_local_state_comment": "Synced",
    }
    broker = {"running_nodes": [f"rabbit@n{i}" for i in range(running)], "partitions": {}}
    views = {db: {"role": "follower", "status": ovn} for db in ("nb", "sb")}
    return Member(node, True, galera, vips, broker, views)


def test_whole_wants_every_member_synced_every_broker_and_one_holder_per_vip() -> None:
    dep = parse(load_yaml(ROOT / "examples" / "dcn-ha.yaml").data)
    plan = plan_control_plane(dep, dep.site("central"))
    names = [n.hostname for n in plan.controllers()]
    vips = tuple(sorted(set(plan.network.vips.values())))
    members = [_member(names[0], 3, vips), _member(names[1], 3), _member(names[2], 3)]
    assert whole(plan, members)
    assert vip_holders(plan, members)[vips[0]] == [names[0]]
    # a member still joining, a broker short of a node, a VIP on two nodes: not whole
    assert not whole(plan, [*members[:2], _member(names[2], 2)])
    assert not whole(plan, [*members[:2], _member(names[2], 3, running=2)])
    assert not whole(plan, [members[0], _member(names[1], 3, vips[:1]), members[2]])
    assert not whole(plan, [*members[:2], Member(names[2], reachable=False)])
    # a controller that left OVN's database clusters
    joining = _member(names[2], 3, ovn="joining cluster")
    assert not whole(plan, [*members[:2], joining])
    assert joining.ovn_text() == "NB joining cluster, SB joining cluster"
    assert members[1].ovn_text() == "NB follower, SB follower"
