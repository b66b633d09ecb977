"""Full hosts are the only kind of lab node: a retired kind, asked for or found in a lab
an older dcn built, is refused with what to do, and 'dcn lab down' still removes such a lab.

Nothing here creates a namespace or boots a node: the fabric and machine calls are
replaced by recorders, and the only process signalled is one the test started.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dcn.cli import lab as cli_lab
from dcn.errors import DcnError
from dcn.lab import Lab, fabric, fullhost, topology
from dcn.lab.machine import Machine

#: what an older dcn recorded for a lab of namespace nodes (kind "netns", or none at all)
OLD_ENTRY = {"site": "s", "netns": "ns-s-node-0", "ssh_address": "198.18.0.2", "sshd_pid": 1}
FULL_ENTRY = {
    "site": "s",
    "hostname": "s-node-0",
    "netns": "ns-s-node-0",
    "ssh_address": "198.18.0.2",
    "dir": "/nonexistent/nodes/s-node-0",
    "image": "/nonexistent/image",
    "kind": "fullhost",
}


def write_lab(tmp_path: Path, kind: str | None, entry: dict[str, Any]) -> Lab:
    lab = Lab(tmp_path, "lab")
    lab.dir.mkdir(parents=True)
    manifest = {
        "deployment": "lab",
        "namespaces": ["ns-spine", entry["netns"]],
        "host_link": "nsh-lab",
        "sites": {"s": 0},
        "nodes": {"s-node-0": entry},
        **({"kind": kind} if kind else {}),
    }
    lab.write_manifest(manifest)
    return lab


# -- DCN_LAB_NODES -------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "fullhost"])
def test_full_hosts_are_built_whatever_is_left_of_the_setting(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(fullhost.NODES_ENV, raising=False)
    else:
        monkeypatch.setenv(fullhost.NODES_ENV, value)
    assert fullhost.kind_from_env() == fullhost.FULLHOST


def test_asking_for_namespace_nodes_says_they_were_retired(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fullhost.NODES_ENV, "netns")
    with pytest.raises(DcnError, match="namespace lab nodes were retired") as err:
        fullhost.kind_from_env()
    assert f"unset {fullhost.NODES_ENV}" in (err.value.hint or "")


def test_any_other_kind_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fullhost.NODES_ENV, "vm")
    with pytest.raises(DcnError, match="not a kind of lab node") as err:
        fullhost.kind_from_env()
    assert f"unset {fullhost.NODES_ENV}" in (err.value.hint or "")


# -- a lab of namespace nodes, built by an older dcn ----------------------------------


@pytest.fixture(params=["netns", None], ids=["kind-netns", "no-kind"])
def old_lab(tmp_path: Path, request: pytest.FixtureRequest) -> Lab:
    return write_lab(tmp_path, request.param, dict(OLD_ENTRY))


def _refused(call: Any) -> None:
    with pytest.raises(DcnError, match="built with namespace nodes") as err:
        call()
    assert "'dcn lab down' then 'dcn lab up'" in (err.value.hint or "")


def test_an_old_lab_is_refused_by_every_use(old_lab: Lab, tmp_path: Path) -> None:
    """Deploying (its connection), status, exec, node actions and growing it all stop
    with the same message, before anything runs on the machine."""
    _refused(old_lab.connection)
    _refused(old_lab.status)
    _refused(lambda: old_lab.exec_argv("s-node-0", ["true"]))
    _refused(lambda: old_lab.node_action("s-node-0", "reboot"))
    _refused(lambda: old_lab.up([], lambda _: None, tmp_path / "image"))


def test_lab_up_refuses_an_old_lab_before_installing_or_building(
    old_lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(fullhost.NODES_ENV, raising=False)
    ctx = _ctx(old_lab, monkeypatch)
    _refused(lambda: cli_lab.up(ctx, skip_prereqs=False))


@pytest.mark.parametrize("command", ["up", "prereqs"])
def test_lab_commands_refuse_the_retired_setting_before_installing_or_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv(fullhost.NODES_ENV, "netns")
    ctx = _ctx(Lab(tmp_path, "lab"), monkeypatch)
    with pytest.raises(DcnError, match="retired"):
        if command == "up":
            cli_lab.up(ctx, skip_prereqs=False)
        else:
            cli_lab.prereqs(ctx)


def _ctx(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """A CLI context on `lab`'s state dir where installing, building or planning fails."""

    def never(*_: object, **__: object) -> None:
        raise AssertionError("reached past the check")

    import dcn.deploy.prepared

    monkeypatch.setattr(cli_lab, "install_packages", never)
    monkeypatch.setattr(dcn.deploy.prepared, "node_image", never)
    ws = SimpleNamespace(
        state_dir=lab.dir.parent, deployment=SimpleNamespace(name=lab.deployment), plan=never
    )
    return SimpleNamespace(obj=ws)


def test_down_removes_an_old_lab_and_stops_its_processes(
    old_lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An old node's sshd (and what it started) runs in the node's namespace: 'down'
    stops every process there, deletes the namespaces its manifest lists and the lab's
    directory, without treating the old nodes as machines."""
    sshd = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    removed: list[tuple[list[str], str | None]] = []
    stopped: list[dict] = []
    try:
        monkeypatch.setattr(fabric, "existing_namespaces", lambda: {"ns-spine", "ns-s-node-0"})
        monkeypatch.setattr(
            fabric, "namespace_pids", lambda ns: [sshd.pid] if ns == "ns-s-node-0" else []
        )
        monkeypatch.setattr(
            fabric, "remove", lambda ns, link: removed.append((list(ns), link)) or list(ns)
        )
        monkeypatch.setattr(fullhost, "stop", stopped.append)
        old_lab.down(lambda _: None)
        assert sshd.poll() is not None  # ended by down, not by the test
    finally:
        if sshd.poll() is None:
            sshd.kill()
            sshd.wait()
    assert removed == [(["ns-spine", "ns-s-node-0"], "nsh-lab")]
    assert stopped == []
    assert not old_lab.dir.exists()


# -- a lab of full hosts --------------------------------------------------------------


def test_down_powers_off_each_full_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = write_lab(tmp_path, "fullhost", dict(FULL_ENTRY))
    stopped: list[dict] = []
    monkeypatch.setattr(fabric, "existing_namespaces", set)
    monkeypatch.setattr(fabric, "remove", lambda ns, link: [])
    monkeypatch.setattr(fullhost, "stop", stopped.append)
    lab.down(lambda _: None)
    assert stopped == [FULL_ENTRY]
    assert not lab.dir.exists()


def test_a_full_host_lab_is_reached_over_its_own_keys(tmp_path: Path) -> None:
    lab = write_lab(tmp_path, "fullhost", dict(FULL_ENTRY))
    conn = lab.connection()
    assert conn.lab and conn.user == "root"
    assert conn.private_key == lab.dir / "id_ed25519"
    assert conn.known_hosts == lab.dir / "known_hosts"


def test_status_and_exec_of_a_full_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = write_lab(tmp_path, "fullhost", dict(FULL_ENTRY))
    monkeypatch.setattr(fabric, "existing_namespaces", lambda: {"ns-s-node-0"})
    monkeypatch.setattr(fabric, "namespace_pids", lambda ns: [11, 12, 13])
    monkeypatch.setattr(Machine, "is_running", lambda self: True)
    monkeypatch.setattr(Machine, "leader_pid", lambda self: 4242)
    [row] = lab.status()
    assert row["kind"] == "fullhost" and row["sshd"] is True
    assert row["netns"] is True and row["processes"] == 3 and row["uplink"] == "up"
    argv = lab.exec_argv("s-node-0", ["hostname"])
    assert argv[:5] == ["nsenter", "-t", "4242", "-a", "--"]
    assert argv[-1] == "hostname"
    with pytest.raises(DcnError, match="no lab node named"):
        lab.node_action("other", "stop")


def test_a_rebooted_node_is_waited_for_on_its_ssh_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = write_lab(tmp_path, "fullhost", dict(FULL_ENTRY))
    actions: list[str] = []
    waited: list[topology.LabNode] = []
    monkeypatch.setattr(fullhost, "action", lambda entry, what: actions.append(what) or "running")
    monkeypatch.setattr(fullhost, "wait_ssh", waited.append)
    assert lab.node_action("s-node-0", "reboot") == "running"
    assert lab.node_action("s-node-0", "stop") == "running"
    assert actions == ["reboot", "stop"]
    assert [(n.hostname, n.ssh_address) for n in waited] == [("s-node-0", "198.18.0.2")]


# -- waiting for a node's sshd --------------------------------------------------------

NODE = topology.LabNode("s", "s-node-0", "ns-s-node-0", "198.18.0.2", {})


class _Accepted:
    def __enter__(self) -> _Accepted:
        return self

    def __exit__(self, *_: object) -> None:
        return None


def test_wait_ssh_tries_until_the_node_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    tries: list[tuple[str, int]] = []

    def connect(address: tuple[str, int], timeout: float) -> _Accepted:
        tries.append(address)
        if len(tries) < 3:
            raise ConnectionRefusedError
        return _Accepted()

    monkeypatch.setattr(fullhost.socket, "create_connection", connect)
    monkeypatch.setattr(fullhost.time, "sleep", lambda _: None)
    fullhost.wait_ssh(NODE)
    assert tries == [("198.18.0.2", 22)] * 3


def test_wait_ssh_names_the_node_and_where_to_look(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fullhost, "SSH_WAIT", 0.0)
    with pytest.raises(
        DcnError, match=r"s-node-0: sshd does not answer on 198\.18\.0\.2:22"
    ) as err:
        fullhost.wait_ssh(NODE)
    assert "dcn lab exec s-node-0 journalctl" in (err.value.hint or "")
