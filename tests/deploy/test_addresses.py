"""A node's planned addresses against what ``ip -j addr`` says it holds."""

from __future__ import annotations

import json
from pathlib import Path

from dcn.deploy import addresses
from dcn.workspace import Workspace

BASIC = Path(__file__).resolve().parents[2] / "examples" / "dcn-basic.yaml"


def ip_json(*addrs: str) -> str:
    return json.dumps(
        [{"ifname": "x", "addr_info": [{"local": a, "prefixlen": 24} for a in addrs]}]
    )


def test_held_reads_every_address_normalised() -> None:
    out = ip_json("198.18.0.3", "fd00:dc:1:0:0::5")
    assert addresses.held(out) == {"198.18.0.3", "fd00:dc:1::5"}
    assert addresses.held("") == set()


def test_the_first_controller_must_hold_the_vips_too(tmp_path: Path) -> None:
    ws = Workspace(BASIC, state_dir=tmp_path)
    plan = {r.site: r.plan for r in ws.plan(record=False)}["central"]
    node = plan.api_node()
    assert node is not None
    own = [a for nets in plan.held_addresses(node).values() for a in nets]
    assert set(plan.network.vips.values()) <= set(own)
    assert addresses.missing(plan, node, set(own)) == []
    vip = plan.network.vips["internal_api"]
    lacking = addresses.missing(plan, node, set(own) - {vip})
    assert lacking == [f"internal_api {vip}"]
