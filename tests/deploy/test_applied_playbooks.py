"""The no-change check against what a real ansible-playbook writes on this machine:

- a node's files written the way unit.yml writes them hash to what the check expects
  (a file Ansible would write otherwise than planned would send every deploy of that
  node through Ansible);
- networks.yml leaves its stamp only when it succeeded, and the node's check reads it.

The node's OpenStack virtualenv is a stand-in (the cloud is not involved)."""

from __future__ import annotations

import getpass
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dcn.deploy import applied
from dcn.deploy.bundle import INSTALL, node_vars
from dcn.deploy.runner import PLAYBOOKS, ansible_yaml, write_inventory
from dcn.node import source
from dcn.workspace import Workspace

BASIC = Path(__file__).resolve().parents[2] / "examples" / "dcn-basic.yaml"

#: site.yml's node programs and files tasks as they run there (the same commands and
#: node programs), each node's documents relocated under a temporary root
WRITE = """
- hosts: site
  gather_facts: false
  tasks:
    - name: programs
      ansible.builtin.command:
        argv: ["{{ ansible_python_interpreter }}", "-c", "{{ dcn_install }}"]
        stdin: "{{ item.programs }}"
      loop: "{{ dcn_nodes }}"
    - name: files
      ansible.builtin.command:
        argv: ["{{ ansible_python_interpreter }}", "{{ dcn_apply }}", "write"]
        stdin: "{{ item.write }}"
      loop: "{{ dcn_nodes }}"
      no_log: true
"""


def playbook(
    tmp_path: Path, path: Path, host_vars: dict[str, Any], extra: dict[str, Any] | None = None
) -> subprocess.CompletedProcess:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    groups = {"site": {"h1": local}, "control_plane": {"h1": local}}
    write_inventory(tmp_path, groups, {"h1": host_vars})
    extravars = tmp_path / "extravars"
    extravars.write_text(ansible_yaml(extra or {}))
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(tmp_path / "inventory" / "hosts.yml"),
            "-e",
            f"@{extravars}",
            str(path),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "0"},
        timeout=300,
    )


@pytest.fixture
def unitctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DCN_UNIT_DIR", str(tmp_path / "no-units"))
    from dcn.node import unitctl

    return importlib.reload(unitctl)


@pytest.mark.parametrize(
    "value",
    [
        lambda name: f"{name}0Generated9Value",  # as generated: letters and digits
        lambda name: f"{name}-value\n{{{{ not_a_template }}}} 50%",
    ],
    ids=["generated", "odd"],
)
def test_files_ansible_writes_hash_as_planned(tmp_path: Path, unitctl, value) -> None:
    """Every file of every node of the basic example (contents with secrets, unit
    files, node programs), written by Ansible under a temporary root, then checked: a
    file Ansible reads back as a Python literal (text starting with '{') is caught."""
    ws = Workspace(BASIC, state_dir=tmp_path / "state")
    root = tmp_path / "root"
    me = getpass.getuser()
    nodes, expected = [], {}
    for plan in (r.plan for r in ws.plan(record=False)):
        secrets = {n: value(n) for n in plan.secrets}
        for node in plan.nodes:
            v = applied.stamped(node_vars(node, secrets, "rel"), applied.STAMP)
            asked = applied.expected(v)
            here = f"{root}/{node.hostname}"
            programs = json.loads(v["dcn_programs"])
            written = json.loads(v["dcn_write"])
            written["files"].append(
                {"path": f"{v['dcn_venv']}.constraints.txt", "content": v["dcn_constraints"]}
            )
            for entry in (*programs["programs"], *written["dirs"], *written["files"]):
                expected_hash = asked.files.get(entry["path"])
                if "content" in entry:
                    assert expected_hash, entry["path"]
                    expected[here + entry["path"]] = expected_hash
                entry.update(path=here + entry["path"], owner=me, mode=entry.get("mode", "0644"))
            assert len(programs["programs"]) + len(written["files"]) == len(asked.files)
            programs["home"] = here + programs["home"]
            nodes.append(
                {
                    "programs": "\n" + json.dumps(programs),
                    "write": v["dcn_write"][:1] + json.dumps(written),
                }
            )
    pb = tmp_path / "write.yml"
    pb.write_text(WRITE)
    apply = Path(unitctl.__file__).with_name("apply.py")
    proc = playbook(
        tmp_path, pb, {"dcn_nodes": nodes, "dcn_apply": str(apply), "dcn_install": INSTALL}
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    answer = unitctl.check({"files": expected})
    assert answer["differ"] == [] and answer["missing"] == []
    assert len(expected) > 50


def fake_venv(root: Path, last_line: str, code: int = 0) -> Path:
    python = root / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True, exist_ok=True)
    python.write_text(f"#!/bin/sh\ncat > /dev/null\necho {last_line}\nexit {code}\n")
    python.chmod(0o755)
    return root / "venv"


def test_networks_yml_leaves_its_stamp_only_when_it_succeeded(tmp_path: Path, unitctl) -> None:
    home = tmp_path / "home"
    home.mkdir()
    path = str(home / "applied-networks")
    extra = applied.stamped(
        {
            "dcn_node_home": str(home),
            "dcn_networks_script": source("workload_networks.py"),
            "dcn_venv": str(fake_venv(tmp_path, "unchanged")),
            "dcn_cloud": "lab",
            "dcn_networks_spec": {"networks": []},
        },
        path,
    )
    proc = playbook(tmp_path, PLAYBOOKS / "networks.yml", {}, extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "changed=1" in proc.stdout  # the script was copied; the stamp is no change
    assert Path(path).read_text() == extra["dcn_applied"]
    assert Path(path).stat().st_mode & 0o777 == 0o600
    request = {"applied": {path: extra["dcn_applied"]}}
    assert unitctl.check(request)["applied"] == {path: True}

    again = playbook(tmp_path, PLAYBOOKS / "networks.yml", {}, extra)
    assert "changed=0" in again.stdout  # clearing and writing the stamp are bookkeeping

    fake_venv(tmp_path, "error", code=1)
    failed = playbook(tmp_path, PLAYBOOKS / "networks.yml", {}, extra)
    assert failed.returncode != 0
    assert unitctl.check(request)["applied"] == {path: None}  # cleared, not written


@pytest.mark.parametrize("failing", [False, True], ids=["deployed", "a-node-failed"])
def test_register_runs_after_site_only_when_every_node_was_deployed(
    tmp_path: Path, failing: bool
) -> None:
    """site.yml and register.yml share one ansible-playbook: a node that failed in
    site.yml keeps the holder (another host) from registering the site."""
    import yaml

    site = yaml.safe_load((PLAYBOOKS / "site.yml").read_text())[0]
    deployed = site["tasks"][-1]
    assert deployed["ansible.builtin.set_fact"] == {"dcn_site_applied": True}
    stand_in = {
        "hosts": "site",
        "gather_facts": False,
        "tasks": [
            {"ansible.builtin.fail": {"msg": "broken"}, "when": "inventory_hostname == 'e2'"},
            deployed,
        ],
    }
    register = yaml.safe_load((PLAYBOOKS / "register.yml").read_text())
    (tmp_path / "both.yml").write_text(yaml.safe_dump([stand_in, *register]))
    ran = tmp_path / "registered"
    python = fake_venv(tmp_path, "changed") / "bin" / "python"
    python.write_text(f"#!/bin/sh\ncat > /dev/null\ntouch {ran}\necho changed\n")
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    edges = ["e1", "e2"] if failing else ["e1"]
    write_inventory(
        tmp_path,
        {"site": dict.fromkeys(edges, local), "control_plane": {"c0": local}},
        {
            "c0": {
                "dcn_venv": str(tmp_path / "venv"),
                "dcn_register_script": "print('stand-in')",
                "dcn_cloud": "lab",
                "dcn_az": "dcn0",
                "dcn_site_hosts": edges,
                "dcn_register_timeout": 5,
            }
        },
    )
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(tmp_path / "inventory" / "hosts.yml"),
            str(tmp_path / "both.yml"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "0"},
        timeout=300,
    )
    assert ran.exists() is not failing, proc.stdout
    if failing:
        assert "not registered: a node of the site was not deployed" in proc.stdout
        assert proc.returncode != 0
    else:
        assert proc.returncode == 0, proc.stdout + proc.stderr
