"""What a site's health check probes: the control plane's endpoints and broker."""

from __future__ import annotations

from pathlib import Path

from dcn.health import targets
from dcn.workspace import Workspace

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dcn-basic.yaml"


def test_targets_are_the_internal_endpoints_and_the_broker(tmp_path: Path) -> None:
    ws = Workspace(EXAMPLE, state_dir=tmp_path)
    central = next(r.plan for r in ws.plan(record=False) if r.site == "central")
    assert central.outputs is not None
    goals = targets(central.outputs)
    vip = central.network.vips["internal_api"]
    assert goals["keystone"] == f"{vip}:5000"
    assert goals["nova"] == f"{vip}:8774"
    assert goals["nova-metadata"] == f"{vip}:8775"
    assert set(goals) == {
        "keystone",
        "placement",
        "glance",
        "neutron",
        "nova",
        "nova-metadata",
        "broker",
    }
    host, port = goals["broker"].rsplit(":", 1)
    assert port == "5672"
    assert host in central.outputs.all_nodes_config["oslo_messaging_rpc_node_names"]
