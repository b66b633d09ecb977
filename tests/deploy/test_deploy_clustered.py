"""A clustered control plane's deploy, hosts and Ansible replaced (the stand-ins of
test_deploy_fast_path): its nodes go one at a time in plan order, and a deployed
control plane's number of controllers is not changed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dcn import remote
from dcn.deploy import Deployer, runner
from dcn.lab import Connection
from dcn.workspace import Workspace
from tests.deploy.test_deploy_fast_path import Nodes, Playbooks

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _deployer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, example: str, **changes: int):
    data = yaml.safe_load((EXAMPLES / example).read_text())
    for key, count in changes.items():
        data["sites"][0]["ha_size"] = count
        data["sites"][0]["roles"][key]["count"] = count
    (tmp_path / "dcn.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    ws = Workspace(tmp_path / "dcn.yaml", state_dir=tmp_path / ".dcn")
    nodes, books = Nodes(), Playbooks()
    monkeypatch.setattr(remote, "run", nodes.run)
    monkeypatch.setattr(runner, "run_playbook", books.run_playbook)
    deployer = Deployer(ws, lambda site, e: None, connection=Connection(tmp_path / "key", None))
    deployer.say = lambda _text: None
    return deployer, ws, nodes, books


def test_controllers_deploy_one_at_a_time_in_plan_order(tmp_path, monkeypatch) -> None:
    deployer, ws, nodes, books = _deployer(tmp_path, monkeypatch, "dcn-ha.yaml")
    (result,) = ws.planner().plan(["central"], record=True)
    nodes.drift.update({n.ssh_address: "/etc/hosts" for n in result.plan.nodes})
    inventories = []
    original = books.run_playbook

    def keep_inventory(run_dir, *args, **kwargs):
        inventories.append((run_dir / "inventory" / "hosts.yml").read_text())
        return original(run_dir, *args, **kwargs)

    monkeypatch.setattr(runner, "run_playbook", keep_inventory)
    assert deployer._deploy(result).ok
    site = next(r for r in books.runs if r[0].startswith("site.yml"))
    assert site[2]["extravars"] == {"dcn_serial": 1}
    # the bootstrap node first: Ansible's serial batches follow the inventory's order
    text = inventories[0]
    order = [text.index(f"{n.hostname}:") for n in result.plan.controllers()]
    assert order == sorted(order)


def test_a_single_controller_has_no_serial_order(tmp_path, monkeypatch) -> None:
    deployer, ws, nodes, books = _deployer(tmp_path, monkeypatch, "dcn-basic.yaml")
    (result,) = ws.planner().plan(["central"], record=True)
    nodes.drift[result.plan.nodes[0].ssh_address] = "/etc/hosts"
    assert deployer._deploy(result).ok
    assert books.runs[0][2]["extravars"] == {}


def test_a_deployed_control_plane_keeps_its_number_of_controllers(tmp_path, monkeypatch) -> None:
    deployer, ws, _, _ = _deployer(tmp_path, monkeypatch, "dcn-basic.yaml")
    (single,) = ws.planner().plan(["central"], record=True)
    assert deployer._check_cluster_size(single.plan) == []  # nothing deployed yet
    assert deployer._deploy(single).ok
    grown, ws3, _, _ = _deployer(tmp_path, monkeypatch, "dcn-basic.yaml", Controller=3)
    (three,) = ws3.planner().plan(["central"], record=True)
    (problem,) = grown._check_cluster_size(three.plan)
    assert "1 controller(s), the description 3 (ha_size)" in problem
    assert "Changing ha_size" in problem
    assert grown._check_cluster_size(single.plan) == []


def test_an_edge_registers_through_a_controller_that_answers(tmp_path, monkeypatch) -> None:
    import dcn.deploy as deploy

    deployer, ws, _, _ = _deployer(tmp_path, monkeypatch, "dcn-ha.yaml")
    (central,) = ws.planner().plan(["central"], record=True)
    assert deployer._deploy(central).ok
    first, second = (n.hostname for n in central.plan.controllers()[:2])
    monkeypatch.setattr(deploy, "ssh_problem", lambda node: None)
    assert list(deployer._control_plane_group()) == [first]
    lost = {first}
    monkeypatch.setattr(
        deploy, "ssh_problem", lambda node: "gone" if node.hostname in lost else None
    )
    assert list(deployer._control_plane_group()) == [second]
    lost.add(second)
    third = central.plan.controllers()[2].hostname
    assert list(deployer._control_plane_group()) == [third]
