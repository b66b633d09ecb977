"""Which kind of lab node is built, and what the deploy does differently for each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dcn.errors import DcnError
from dcn.lab import Lab, fullhost


def test_the_kind_of_node_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fullhost.NODES_ENV, raising=False)
    assert fullhost.kind_from_env() == fullhost.FULLHOST
    monkeypatch.setenv(fullhost.NODES_ENV, "netns")
    assert fullhost.kind_from_env() == fullhost.NETNS
    monkeypatch.setenv(fullhost.NODES_ENV, "vm")
    with pytest.raises(DcnError, match="not a kind of lab node"):
        fullhost.kind_from_env()


@pytest.mark.parametrize(("kind", "shared"), [("netns", True), ("fullhost", False), (None, True)])
def test_only_namespace_nodes_share_the_machines_packages(
    tmp_path: Path, kind: str | None, shared: bool
) -> None:
    """Full-host nodes get the real-host prerequisites from the playbook; namespace
    nodes use the machine's (a lab recorded before kinds existed is one of those)."""
    lab = Lab(tmp_path, "lab")
    lab.dir.mkdir(parents=True)
    manifest = {"nodes": {}, **({"kind": kind} if kind else {})}
    lab.manifest_path.write_text(json.dumps(manifest))
    conn = lab.connection()
    assert conn.lab and conn.shared_root is shared


def test_a_namespace_node_cannot_be_powered_off(tmp_path: Path) -> None:
    lab = Lab(tmp_path, "lab")
    lab.dir.mkdir(parents=True)
    entry = {"site": "s", "netns": "n", "ssh_address": "198.18.0.2", "sshd_pid": 1}
    lab.manifest_path.write_text(json.dumps({"nodes": {"s-node-0": entry}}))
    with pytest.raises(DcnError, match="not a full host"):
        lab.node_action("s-node-0", "reboot")
    with pytest.raises(DcnError, match="no lab node named"):
        lab.node_action("other", "stop")
