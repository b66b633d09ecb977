"""A site's deploy with the no-change check (`Deployer._deploy`), hosts and Ansible
replaced: the nodes' answers come from a stand-in for SSH, the playbook runs are
recorded. What is decided: which nodes site.yml gets, whether register.yml and
networks.yml run, what the outcome and the store say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcn import remote
from dcn.deploy import Deployer, runner
from dcn.deploy.applied import STAMP
from dcn.lab import Connection
from dcn.plan.engine import SitePlanResult
from dcn.state.records import GenerationStatus
from dcn.workspace import Workspace

BASIC = Path(__file__).resolve().parents[2] / "examples" / "dcn-basic.yaml"


class Nodes:
    """Stand-in for the nodes' ``unitctl.py check`` over SSH: every node holds its
    plan, except what a test says."""

    def __init__(self) -> None:
        self.asked: dict[str, dict] = {}
        #: address -> a file that differs there
        self.drift: dict[str, str] = {}
        #: addresses that do not answer
        self.silent: set[str] = set()
        #: stamp paths that hold another digest
        self.stale: set[str] = set()

    def run(self, conn, address, command, timeout=10, stdin=None) -> str | None:
        assert command[-1] == "check"
        request = json.loads(stdin)
        self.asked[address] = request
        if address in self.silent:
            return None
        drift = self.drift.get(address)
        return json.dumps(
            {
                "applied": {p: p not in self.stale for p in request["applied"]},
                "differ": [drift] if drift else [],
                "missing": [],
                "modes": {},
                "markers": [],
                "processes": {},
                "extra": [],
            }
        )


class _Loader(yaml.SafeLoader):
    """Reads what dcn writes for Ansible (every string tagged ``!unsafe``)."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


class Playbooks:
    """Stand-in for ansible-runner: which playbook ran on which hosts, with what."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, list[str], dict]] = []

    def run_playbook(self, run_dir, playbook, conn, extravars, on_step, forks=10, cancel=None):
        """`playbook`: one, or several run by one ansible-playbook (named "a+b")."""
        books = [playbook] if isinstance(playbook, str) else list(playbook)
        inventory = yaml.load((run_dir / "inventory" / "hosts.yml").read_text(), _Loader)
        groups = ["site" if book == "site.yml" else "control_plane" for book in books]
        hosts = sorted(
            {h for g in groups for h in inventory["all"]["children"].get(g, {}).get("hosts") or {}}
        )
        folder = run_dir / "inventory" / "host_vars"
        host_vars = {p.stem: yaml.load(p.read_text(), _Loader) for p in folder.glob("*.yml")}
        self.runs.append(
            ("+".join(books), hosts, {"extravars": dict(extravars), "host_vars": host_vars})
        )
        return runner.RunResult(
            "successful", {h: runner.HostResult(ok=5, changed=1) for h in hosts}
        )

    @property
    def names(self) -> list[str]:
        return [r[0] for r in self.runs]


@pytest.fixture
def deploy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(deployer, results by site, nodes, playbooks): dcn0 has two computes."""
    data = yaml.safe_load(BASIC.read_text())
    data["sites"][1]["roles"]["DistributedCompute"]["count"] = 2
    (tmp_path / "dcn.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    ws = Workspace(tmp_path / "dcn.yaml", state_dir=tmp_path / ".dcn")
    results = {r.site: r for r in ws.planner().plan(["central", "dcn0"], record=True)}
    nodes, books = Nodes(), Playbooks()
    monkeypatch.setattr(remote, "run", nodes.run)
    monkeypatch.setattr(runner, "run_playbook", books.run_playbook)
    said: list[str] = []
    deployer = Deployer(ws, lambda site, e: None, connection=Connection(tmp_path / "key", None))
    deployer.say = said.append
    deployer.said = said  # type: ignore[attr-defined]
    return deployer, results, nodes, books


def address(result: SitePlanResult, index: int) -> str:
    return result.plan.nodes[index].ssh_address or ""


def test_a_site_that_holds_its_plan_runs_no_ansible(deploy: Any) -> None:
    deployer, results, nodes, books = deploy
    outcome = deployer._deploy(results["central"])
    assert books.runs == []
    assert outcome.ok and outcome.changed == 0
    assert outcome.message.startswith("no changes on any host; 1 node unchanged (checked in ")
    assert outcome.message.endswith(" s); Ansible skipped")
    assert deployer.said[0].startswith("central: 1 node unchanged (checked in ")
    # one round trip to the controller: its own stamp and networks.yml's
    request = nodes.asked[address(results["central"], 0)]
    assert set(request["applied"]) == {STAMP, f"{STAMP}-networks"}
    assert request["processes"] and request["files"]
    store, dep = deployer.ws.store, deployer.dep.name
    record = store.latest_generation(dep, "central")
    assert record.status == GenerationStatus.DEPLOYED and record.number == outcome.generation
    assert not list((deployer.ws.state_dir / "runs").glob("*/inventory"))


def test_only_the_nodes_that_differ_get_ansible(deploy: Any) -> None:
    deployer, results, nodes, books = deploy
    deployer._deploy(results["central"])
    edge = results["dcn0"]
    nodes.drift[address(edge, 1)] = "/etc/nova/nova.conf"
    outcome = deployer._deploy(edge)
    second = edge.plan.nodes[1].hostname
    # register: site.yml ran; both in one ansible-playbook
    assert books.names == ["site.yml+register.yml"]
    (_, hosts, given), holder = books.runs[0], results["central"].plan.nodes[0].hostname
    assert hosts == sorted([second, holder])
    assert sorted(given["host_vars"]) == sorted([second, holder])  # no secrets for the other
    assert outcome.ok and outcome.changed == 2  # the stand-in: one change per host
    assert outcome.message.startswith("2 changes; 1 of 2 nodes unchanged (checked in ")
    assert f"Ansible on {second} (/etc/nova/nova.conf differs)" in deployer.said[-1]
    # register.yml's stamp was asked of the control plane's node, by itself
    cp = nodes.asked[address(results["central"], 0)]
    assert set(cp["applied"]) == {f"{STAMP}-register-dcn0"} and "processes" not in cp
    # its variables are the holder's host variables (extra ones would override site.yml's)
    assert given["extravars"] == {}
    assert given["host_vars"][holder]["dcn_applied_path"] == f"{STAMP}-register-dcn0"
    assert given["host_vars"][holder]["dcn_applied"].startswith("sha256:")
    assert given["host_vars"][second]["dcn_applied_path"] == STAMP


def test_registration_follows_a_restart_of_the_computes(deploy: Any) -> None:
    """A node that differs gets site.yml, and register.yml with it, though its stamp
    matches: its wait for the computes to be up is what tells the deploy is done (a
    restarted nova-compute with tuned liveness is down for seconds; a server booted
    right after the deploy failed without it)."""
    deployer, results, nodes, books = deploy
    edge = results["dcn0"]
    nodes.drift[address(edge, 0)] = "/etc/nova/nova.conf"
    deployer._deploy(edge)
    assert books.names == ["site.yml+register.yml"]


def test_a_follower_runs_alone_when_its_inputs_changed(deploy: Any) -> None:
    deployer, results, nodes, books = deploy
    nodes.stale.add(f"{STAMP}-networks")
    outcome = deployer._deploy(results["central"])
    assert books.names == ["networks.yml"]
    assert "only networks.yml ran" in outcome.message


def test_no_answer_means_ansible_everywhere(deploy: Any) -> None:
    deployer, results, nodes, books = deploy
    edge = results["dcn0"]
    nodes.silent.add(address(edge, 0))
    deployer._deploy(edge)
    holder = results["central"].plan.nodes[0].hostname
    assert books.runs[0][1] == sorted([edge.plan.nodes[0].hostname, holder])
    assert "no answer to the check" in deployer.said[-1]
    nodes.silent.add(address(results["central"], 0))  # register.yml's stamp: unknown
    nodes.silent.discard(address(edge, 0))
    deployer._deploy(edge)
    assert books.names == ["site.yml+register.yml", "register.yml"]  # the second: alone


def test_full_asks_no_node(deploy: Any) -> None:
    deployer, results, nodes, books = deploy
    deployer.full = True
    outcome = deployer._deploy(results["central"])
    assert nodes.asked == {}
    assert books.names == ["site.yml", "networks.yml"]
    assert outcome.message == "2 changes"
