"""`dcn status` tells the truth: an interrupted deploy, hosts that can't be reached, a
stack the description dropped (and `dcn health` shows that one too).

No hosts: generations are planned for real and moved through the store the way a
deploy leaves them; run owners are this test's own processes (live) or finished ones
(gone); the lab is a manifest file.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from dcn import health
from dcn.cli import render
from dcn.cli.operate import _health
from dcn.cli.status import show_status
from dcn.deploy import runs
from dcn.fleetstatus import status_data
from dcn.hosts import REAL_HOST_SETTINGS
from dcn.lab import Connection, fullhost
from dcn.nextsteps import RunHolder, SiteNext, deploying_step, orphan_step, orphaned
from dcn.state import lock as locks
from dcn.state.records import GenerationStatus
from dcn.workspace import Workspace

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dcn-basic.yaml"
RUN_ID = "0123abcd" + "f" * 24


def workspace(folder: Path) -> Workspace:
    return Workspace(folder / "dcn.yaml", state_dir=folder / ".dcn")


def rows(ws: Workspace, probe: bool = False) -> dict[str, dict]:
    return {r["site"]: r for r in status_data(ws, probe)}


def captured(fn, *args, **kwargs) -> str:
    with render.out.capture() as cap:
        fn(*args, **kwargs)
    return cap.get()


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as wide as they need: a row's cells stay on one line."""
    monkeypatch.setattr(render.out, "width", 300)


@pytest.fixture(autouse=True)
def no_ssh_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in REAL_HOST_SETTINGS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def deployed(tmp_path: Path) -> Path:
    """The example planned and deployed (generation 1 everywhere)."""
    shutil.copy(EXAMPLE, tmp_path / "dcn.yaml")
    ws = workspace(tmp_path)
    ws.plan()
    for site in ("central", "dcn0", "dcn1"):
        ws.store.set_status("lab", site, 1, GenerationStatus.DEPLOYED, "deployed")
    return tmp_path


def start_deploy(ws: Workspace, site: str = "dcn0") -> Path:
    """What the deployer leaves when a deploy of `site` has begun: the generation
    deploying with its run id, the run directory with this process's owner record."""
    ws.store.set_status("lab", site, 1, GenerationStatus.DEPLOYING, "started", run_id=RUN_ID)
    run_dir = runs.run_dir(ws.state_dir, site, 1, RUN_ID)
    run_dir.mkdir(parents=True, mode=0o700)
    runs.claim(run_dir)
    return run_dir


def finished_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- interrupted ---------------------------------------------------------------------


def test_a_deploy_whose_dcn_is_gone_is_interrupted(deployed: Path) -> None:
    ws = workspace(deployed)
    run_dir = start_deploy(ws)
    pid = finished_pid()
    record = run_dir.parent / runs.OWNERS / f"{run_dir.name}.json"
    record.write_text(json.dumps(asdict(replace(runs.Owner.me(), pid=pid))))
    for _ in ("before the sweep", "after it"):
        row = rows(ws)["dcn0"]
        assert row["status"] == "interrupted" and row["generation_status"] == "deploying"
        assert row["status_text"] == f"interrupted (pid {pid} gone)"
        assert row["run"] == {"state": "gone", "pid": pid, "host": socket.gethostname()}
        assert row["next"] == "dcn deploy dcn0"
        assert row["deploys"] == ["dcn0"]
        assert "interrupted" in row["reason"] and f"pid {pid}" in row["reason"]
        runs.sweep(ws.state_dir)
    text = captured(show_status, ws, False)
    assert f"interrupted (pid {pid} gone)" in text
    assert "1 sites need a deploy (dcn0): run 'dcn deploy dcn0'" in text


def test_a_live_deploy_is_deploying_with_nothing_to_run(deployed: Path) -> None:
    ws = workspace(deployed)
    start_deploy(ws)  # owned by this (live) process
    row = rows(ws)["dcn0"]
    assert row["status"] == row["status_text"] == "deploying"
    assert row["run"]["state"] == "alive" and row["run"]["pid"] == os.getpid()
    assert row["next"] is None and "being deployed" in row["reason"]
    assert "need a deploy" not in captured(show_status, ws, False)


def test_without_a_run_record_the_lock_decides(
    deployed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace(deployed)
    ws.store.set_status("lab", "dcn0", 1, GenerationStatus.DEPLOYING, "started", run_id=RUN_ID)
    # nobody holds the deployment's lock: nobody deploys
    assert rows(ws)["dcn0"]["status"] == "interrupted"
    # a deploy from another host holds it: not ours to judge
    monkeypatch.setattr(locks.socket, "gethostname", lambda: "elsewhere.example")
    with ws.store.lock("lab", "dcn deploy dcn0"):
        monkeypatch.undo()
        row = rows(ws)["dcn0"]
        assert row["status"] == "deploying"
        assert row["status_text"] == "deploying (on elsewhere.example)"
        assert row["next"] is None and "dcn state unlock" in row["reason"]
    # a live dcn on this host holds it (this test's parent process stands in for it)
    monkeypatch.setattr(locks.os, "getpid", os.getppid)
    with ws.store.lock("lab", "dcn deploy dcn0"):
        monkeypatch.undo()
        row = rows(ws)["dcn0"]
        assert (row["status"], row["run"]["pid"]) == ("deploying", os.getppid())
    # the lock of a process that is gone (dcn killed while it held it)
    gone = finished_pid()
    monkeypatch.setattr(locks.os, "getpid", lambda: gone)
    with ws.store.lock("lab", "dcn deploy dcn0"):
        monkeypatch.undo()
        assert rows(ws)["dcn0"]["status_text"] == f"interrupted (pid {gone} gone)"


# -- reach ---------------------------------------------------------------------------


def write_lab(ws: Workspace, cut: list[str]) -> None:
    nodes = {}
    for site, host in (
        ("central", "central-controller-0"),
        ("dcn0", "dcn0-distributedcompute-0"),
        ("dcn1", "dcn1-distributedcompute-0"),
    ):
        nodes[host] = {
            "site": site,
            "hostname": host,
            "netns": f"dcnt-{site}",
            "ssh_address": "198.18.0.10",
            "dir": str(ws.state_dir / "lab" / "nodes" / host),
            "image": str(ws.state_dir / "lab" / "image"),
            "kind": fullhost.FULLHOST,
        }
    lab = ws.state_dir / "lab"
    lab.mkdir(mode=0o700)
    manifest = {"deployment": "lab", "nodes": nodes, "sites": {}, "cut": cut}
    (lab / "manifest.json").write_text(json.dumps(manifest))


def test_lab_down_makes_every_site_unreachable(deployed: Path) -> None:
    found = rows(workspace(deployed))
    assert {r["reach"] for r in found.values()} == {"unreachable: lab down"}
    assert not any(r["reachable"] for r in found.values())
    assert found["central"]["status"] == "deployed"  # what was deployed; reach says more


def test_lab_cut_and_stopped_nodes(deployed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = workspace(deployed)
    write_lab(ws, cut=["dcn1"])
    # the machines of the manifest are not running (no such machines): nodes down
    found = rows(ws)
    assert found["central"]["reach"] == "unreachable: nodes down: central-controller-0"
    assert found["dcn1"]["reach"] == "unreachable: site cut"
    monkeypatch.setattr(fullhost, "running", lambda entry: entry["site"] != "dcn0")
    found = rows(ws)
    assert (found["central"]["reach"], found["central"]["reachable"]) == ("reachable", True)
    assert found["dcn0"]["reach"] == "unreachable: nodes down: dcn0-distributedcompute-0"
    assert found["dcn0"]["reachable"] is False
    assert "unreachable: site cut" in captured(show_status, ws, False)


def test_real_hosts_show_when_health_last_reached_them(
    deployed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DCN_SSH_KEY", str(deployed / "id_ed25519"))
    ws = workspace(deployed)
    assert rows(ws)["dcn0"]["reach"] == "not checked yet"
    ws.store.mark_seen("lab", "dcn0", datetime.now(UTC))
    row = rows(ws)["dcn0"]
    assert row["reach"].startswith("last reached ") and row["reach"].endswith("(dcn health)")
    assert row["reachable"] is None and row["last_seen"]


def test_probe_asks_every_node_now(deployed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--probe: each site's nodes, from its recorded plan (the TCP part is below)."""
    monkeypatch.setenv("DCN_SSH_KEY", str(deployed / "id_ed25519"))
    asked: list[set[str]] = []

    def answers(addresses):
        asked.append(set(addresses))
        return {a: None if a.startswith("198.18.0.") else "timed out" for a in addresses}

    monkeypatch.setattr(health, "probe_ports", answers)
    found = rows(workspace(deployed), probe=True)
    assert len(asked) == 1 and len(asked[0]) == 3  # one node per site, all at once
    assert found["central"]["reach"] == "reachable"
    assert found["dcn0"]["reach"] == "unreachable: no node answers on port 22"


def test_probe_ports_on_loopback() -> None:
    with socket.socket() as listening, socket.socket() as closed:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        closed.bind(("127.0.0.1", 0))  # bound, not listening: refuses
        port = listening.getsockname()[1]
        assert health.probe_ports(["127.0.0.1"], port) == {"127.0.0.1": None}
        refused = health.probe_ports(["127.0.0.1", "::1"], closed.getsockname()[1])
        assert refused["127.0.0.1"] == os.strerror(111)
        assert refused["::1"]  # refused, or no IPv6 here: a reason either way
    assert (
        "not resolved" in health.probe_ports(["no-such-host.invalid"], 22)["no-such-host.invalid"]
    )


# -- orphaned ------------------------------------------------------------------------


def drop_site(folder: Path, site: str) -> None:
    desc = folder / "dcn.yaml"
    data = yaml.safe_load(desc.read_text())
    data["sites"] = [s for s in data["sites"] if s["name"] != site]
    for net in data.get("workload_networks", []):
        net["segments"] = [s for s in net.get("segments", []) if s.get("site") != site]
    desc.write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_stack_the_description_dropped_is_orphaned(
    deployed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drop_site(deployed, "dcn1")
    ws = workspace(deployed)
    row = rows(ws)["dcn1"]
    assert row["status"] == "orphaned" and row["orphaned"] is True
    assert row["generation_status"] == "deployed"
    assert row["next"] == "dcn decommission dcn1"
    assert row["reason"] == f"in the state store, not in {ws.file}"
    assert row["deploys"] == [] and row["kind"] == "edge" and row["az"] == "dcn1"
    show_status(ws, True)
    assert "dcn1" in {r["site"] for r in json.loads(capsys.readouterr().out)}
    text = captured(show_status, ws, False)
    assert "orphaned" in text and "dcn decommission" in text
    assert "need a deploy" not in text
    # decommissioned: gone from the view
    ws.store.set_status("lab", "dcn1", 1, GenerationStatus.REMOVED, "decommissioned")
    assert "dcn1" not in rows(ws)


def test_health_shows_an_orphaned_stack(
    deployed: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    drop_site(deployed, "dcn1")
    ws = workspace(deployed)
    conn = Connection(deployed / "id_ed25519", None)
    monkeypatch.setattr(health, "connection_for", lambda ws: conn)
    monkeypatch.setattr(health, "_api_view", lambda ws: ({}, {}, "no API in this test"))
    monkeypatch.setattr(
        health, "probe_site", lambda conn, plan, goals: {n.hostname: None for n in plan.nodes}
    )
    found = {h.site: h for h in health.check(ws)}
    assert found["dcn1"].orphaned == f"in the state store, not in {ws.file}"
    assert found["dcn1"].next == "dcn decommission dcn1"
    assert found["dcn0"].orphaned is None
    text = captured(_health, ws, None, False)
    assert "dcn1 is orphaned" in text and "dcn decommission dcn1" in text
    _health(ws, None, True)
    found = {r["site"]: r for r in json.loads(capsys.readouterr().out)}
    assert found["dcn1"]["next"] == "dcn decommission dcn1" and found["dcn1"]["orphaned"]


# -- the rules, pure -------------------------------------------------------------------


def test_an_interrupted_edge_still_deploys_after_its_control_plane() -> None:
    reason = "generation 2 is deploying (or its run was interrupted)"
    tail = "; central's newest generation is not deployed: it goes first"
    step = SiteNext("dcn0", "dcn deploy central dcn0", reason + tail, None, ("central", "dcn0"))
    gone = deploying_step(step, 2, RunHolder("gone", 42, "here"))
    assert gone.command == "dcn deploy central dcn0" and gone.deploys == ("central", "dcn0")
    assert gone.reason.startswith("generation 2's deploy was interrupted (its dcn, pid 42")
    assert gone.reason.endswith(tail)
    alive = deploying_step(step, 2, RunHolder("alive", 42, "here"))
    assert (alive.command, alive.deploys) == ("", ())
    assert RunHolder("gone").status() == "interrupted"


def test_orphans_are_stacks_not_described_and_not_decommissioned() -> None:
    statuses = {
        "central": GenerationStatus.DEPLOYED,
        "old": GenerationStatus.FAILED,
        "going": GenerationStatus.REMOVING,
        "gone": GenerationStatus.REMOVED,
    }
    assert orphaned(statuses, ["central"]) == ["old", "going"]
    assert orphan_step("a b", "dcn.yaml").command == "dcn decommission 'a b'"
