"""End to end on the lab: a control plane of three controllers (examples/dcn-ha.yaml),
proven by losing one, by every database member stopping, and by a refused change of
its size. One lab for the module; each controller is a full host (systemd-nspawn)."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.test_lab import Lab

from dcn.cloud import admin_connection

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "dcn-ha.yaml"
CONTROLLERS = [f"central-controller-{i}" for i in range(3)]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="the lab needs iproute2"),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("ha"))
    shutil.copy(EXAMPLE, lab.file)
    try:
        lab.dcn("lab", "up")
        lab.dcn("deploy", "central")
        lab.dcn("deploy", "dcn0", "dcn1", "--parallel", "2")
        _smoke(lab)
        yield lab
    finally:
        lab.dcn("lab", "down", check=False)


def _smoke(lab: Lab) -> None:
    """dcn smoke; once more when the first boot found no valid host. Seen once in this
    lab right after a fresh clustered control plane registered its edges (cause not
    found yet; written down in the issue's note): the retry is printed, never silent."""
    first = lab.dcn("smoke", "--no-guests", check=False)
    if first.returncode == 0:
        return
    if "No valid host" not in first.stdout + first.stderr:
        raise AssertionError(f"dcn smoke failed:\n{first.stdout}\n{first.stderr}")
    print(f"smoke found no valid host, booting again:\n{first.stdout}{first.stderr}")
    conn = admin_connection(lab.ws())
    for server in list(conn.compute.servers()):
        if server.name.startswith("dcn-smoke-"):
            conn.compute.delete_server(server)
            conn.compute.wait_for_delete(server, wait=120)
    time.sleep(10)
    lab.dcn("smoke", "--no-guests")


def _cluster(lab: Lab) -> list[dict]:
    (central,) = json.loads(lab.dcn("health", "central", "--format", "json").stdout)
    return central["cluster"]


def test_health_shows_one_whole_cluster_and_one_vip_holder(lab: Lab) -> None:
    rows = _cluster(lab)
    assert [r["node"] for r in rows] == CONTROLLERS
    for row in rows:
        assert row["galera_ok"] and "Synced, Primary, size 3" in row["galera"], row
        assert row["rabbitmq_ok"] and row["rabbitmq"].startswith("3 running"), row
        assert row["ovn_ok"] and "NB" in row["ovn"], row
    holders = [r["node"] for r in rows if r["vips"]]
    assert len(holders) == 1
    assert "198.18.16.2" in next(r["vips"] for r in rows if r["vips"])


def test_one_time_work_ran_on_the_bootstrap_controller_only(lab: Lab) -> None:
    """Schema syncs and cells left their markers on the first controller alone."""

    def markers(node: str) -> str:
        return lab.dcn("lab", "exec", node, "ls", "/var/lib/dcn/steps").stdout

    first, joiner = markers(CONTROLLERS[0]), markers(CONTROLLERS[1])
    assert "nova_api" in first and "keystone" in first
    assert "nova_api" not in joiner and "keystone" not in joiner
    assert "mariadb" in joiner  # its own datadir


def test_losing_the_vip_holder_keeps_the_cloud_working(lab: Lab) -> None:
    holder = next(r["node"] for r in _cluster(lab) if r["vips"])
    out = lab.dcn("drill", "run", "controller-loss", "--format", "json").stdout
    (report,) = json.loads(out)
    figures = report["figures"]
    claims = {c["claim"]: c for c in report["claims"]}
    assert claims["ha-survives"]["held"], claims["ha-survives"]["evidence"]
    assert claims["edge-keeps-running"]["held"], claims["edge-keeps-running"]["evidence"]
    # the seed's claim is about a lost control plane: one lost controller is not that
    assert claims["cp-no-api"]["held"] is False
    assert figures["api_probes"] > figures["api_failed_probes"]
    assert figures["api_outage_seconds"] is not None
    assert figures["db_writes"] and figures["db_write_stall_seconds"] is not None
    assert figures["galera_members_during"] == 2
    boot = next(a for a in report["attempts"] if a["action"].startswith("boot a server"))
    assert boot["outcome"] == "ACTIVE"
    # every probe is a mark of the picture, on the drill's clock, inside the power-off
    probes = [m for m in report["marks"] if m["kind"] == "probe"]
    assert len(probes) >= figures["api_probes"]
    assert sum(not m["ok"] for m in probes) >= figures["api_failed_probes"]
    (fault,) = [m for m in report["marks"] if m["kind"] == "fault"]
    (heal,) = [m for m in report["marks"] if m["kind"] == "heal"]
    assert fault["what"] == "power-off" and fault["target"] == holder
    failed = [m["t"] for m in probes if not m["ok"]]
    assert all(fault["t"] - 1.5 <= t <= heal["t"] for t in failed), (fault, heal, failed)
    # the controller came back and the cluster is whole again, the VIPs elsewhere
    assert figures["cluster_whole_after_return"] is not None
    rows = _cluster(lab)
    assert all(r["galera_ok"] and r["rabbitmq_ok"] for r in rows)
    assert holder not in [r["node"] for r in rows if r["vips"]]


def _wait_whole(lab: Lab, limit: float = 240) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        rows = _cluster(lab)
        if all(r["galera_ok"] and r["rabbitmq_ok"] and r["ovn_ok"] for r in rows):
            return sum(bool(r["vips"]) for r in rows) == 1
        time.sleep(3)
    return False


def test_an_edge_deploys_while_the_bootstrap_controller_is_lost(lab: Lab) -> None:
    """Registration goes through a controller that answers."""
    lab.dcn("lab", "node", "stop", CONTROLLERS[0])
    try:
        out = lab.dcn("deploy", "dcn1", "--full").stdout
        assert "deployed" in out
        # the deploy's hosts, from the event log: the edge's node and controller-1
        lines = [x for x in lab.dcn("history").stdout.splitlines() if " dcn1 gen " in x]
        last = max(i for i, x in enumerate(lines) if "deploying" in x)
        hosts = [x for x in lines[last:] if " host: " in x]
        assert any(f" {CONTROLLERS[1]} host: " in x for x in hosts), hosts
        assert not any(f" {CONTROLLERS[0]} host: " in x for x in hosts), hosts
    finally:
        lab.dcn("lab", "node", "start", CONTROLLERS[0])
    assert _wait_whole(lab)


def test_recover_bootstraps_from_the_most_advanced_member(lab: Lab) -> None:
    """Every mariadb stopped one after another: the last to stop is the most advanced,
    and recovery starts the cluster from it, whatever its place in the plan."""
    for node in reversed(CONTROLLERS):
        lab.dcn("lab", "exec", node, "systemctl", "stop", "mariadb")
    seqnos = {}
    for node in CONTROLLERS:
        state = lab.dcn("lab", "exec", node, "cat", "/var/lib/mysql/grastate.dat").stdout
        seqnos[node] = int(state.split("seqno:")[1].split()[0])
    result = json.loads(lab.dcn("recover", "central", "--format", "json").stdout)
    assert result["whole"]
    best = max(seqnos.values())
    assert seqnos[result["bootstrapped"]] == best
    assert {p["node"]: p["seqno"] for p in result["positions"]} == seqnos
    assert all(r["galera_ok"] for r in _cluster(lab))
    # and the cloud answers again
    _smoke(lab)


def test_changing_the_number_of_controllers_is_refused_before_any_host(lab: Lab) -> None:
    text = lab.file.read_text()
    for count, says in ((5, "3 controller(s), the description 5"), (1, "not computes")):
        other = lab.workdir / f"controllers-{count}.yaml"
        other.write_text(
            text.replace("ha_size: 3", f"ha_size: {count}").replace(
                "Controller: {count: 3}", f"Controller: {{count: {count}}}"
            )
        )
        result = lab.dcn("deploy", "central", check=False, file=other)
        assert result.returncode != 0
        assert says in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    # nothing changed on the cluster
    assert all(r["galera_ok"] for r in _cluster(lab))
