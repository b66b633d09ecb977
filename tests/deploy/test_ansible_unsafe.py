"""Values dcn hands to Ansible are data, never templates: a real ansible-playbook run.

Ansible templates a variable when it uses it, so a value holding ``{{ lookup('pipe',
...) }}`` (an override value, an AZ name, an imported export's value) would run a
command on the operator's machine. Every value dcn writes for Ansible is ``!unsafe``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dcn.deploy.runner import ansible_yaml, write_inventory

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: "show {{ az }}"
      ansible.builtin.debug:
        msg: "{{ content }} | {{ units[0].files[0].content }} | {{ az }}"
"""


def test_a_template_in_any_value_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = "{{ lookup('pipe', 'touch " + str(marker) + "') }}"
    write_inventory(
        tmp_path,
        {"site": {"h1": {"ansible_connection": "local"}}},
        {"h1": {"content": f"debug = {evil}", "units": [{"files": [{"content": evil}]}]}},
    )
    extra = tmp_path / "extravars"
    extra.write_text(ansible_yaml({"az": evil}))
    playbook = tmp_path / "pb.yml"
    playbook.write_text(PLAYBOOK)
    ansible = Path(sys.executable).with_name("ansible-playbook")
    proc = subprocess.run(
        [
            str(ansible),
            "-i",
            str(tmp_path / "inventory" / "hosts.yml"),
            "-e",
            f"@{extra}",
            str(playbook),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "0"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not marker.exists(), "a value was run as a template"
    assert "lookup('pipe'" in proc.stdout  # shown as the text it is


def test_unsafe_marks_values_not_keys() -> None:
    text = ansible_yaml({"a": ["x", 1, True, {"b": "y"}]})
    assert text.count("!unsafe") == 2 and "a:" in text and "b: !unsafe" in text
