"""networks.yml, run by a real ansible-playbook on this machine: the spec reaches the node
program's stdin as the JSON dcn built (Ansible reads a JSON-looking string back into a
dict when templating; the playbook must not let it), the program runs with the node's
venv and the cloud's name, and its last line decides whether the task changed.

The node's python is a stand-in that records what it was given: the cloud is not
involved (the lab's end-to-end test runs the real program).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dcn.deploy.networks import spec
from dcn.deploy.runner import PLAYBOOKS, ansible_yaml, write_inventory
from dcn.model.description import Deployment
from dcn.node import source

WORKLOAD = Path(__file__).resolve().parents[1] / "fixtures" / "workload-networks.yaml"


def fake_venv(root: Path, last_line: str) -> Path:
    """A venv whose python records its stdin and arguments and answers `last_line`."""
    bin_dir = root / "venv" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    python = bin_dir / "python"
    python.write_text(
        "#!/bin/sh\n"
        f'cat > "{root}/stdin.json"\n'
        f'printf "%s\\n" "$@" > "{root}/argv"\n'
        'echo \'{"created": [], "kept": [], "updated": []}\'\n'
        f"echo {last_line}\n"
    )
    python.chmod(0o755)
    return root / "venv"


def run(tmp_path: Path, built: dict, last_line: str) -> str:
    venv = fake_venv(tmp_path, last_line)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    write_inventory(
        tmp_path,
        {
            "control_plane": {
                "central-controller-0": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                }
            }
        },
        {"central-controller-0": {}},
    )
    extra = tmp_path / "extravars"
    extra.write_text(
        ansible_yaml(
            {
                "dcn_node_home": str(home),
                "dcn_networks_script": source("workload_networks.py"),
                "dcn_venv": str(venv),
                "dcn_cloud": "lab",
                "dcn_networks_spec": built,
            }
        )
    )
    ansible = Path(sys.executable).with_name("ansible-playbook")
    proc = subprocess.run(
        [
            str(ansible),
            "-i",
            str(tmp_path / "inventory" / "hosts.yml"),
            "-e",
            f"@{extra}",
            str(PLAYBOOKS / "networks.yml"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "0"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def built() -> dict:
    return spec(Deployment.model_validate(yaml.safe_load(WORKLOAD.read_text())))


def test_the_program_gets_the_spec_as_json_and_its_answer_decides_changed(
    tmp_path: Path, built: dict
) -> None:
    first = run(tmp_path, built, "unchanged")
    assert json.loads((tmp_path / "stdin.json").read_text()) == built
    argv = (tmp_path / "argv").read_text().split()
    assert argv == [str(tmp_path / "home" / "workload_networks.py"), "--cloud", "lab"]
    shipped = (tmp_path / "home" / "workload_networks.py").read_text()
    assert shipped == source("workload_networks.py")
    assert "changed=1" in first  # the script was copied; the program changed nothing
    assert "changed=0" in run(tmp_path, built, "unchanged")
    assert "changed=1" in run(tmp_path, built, "changed")
