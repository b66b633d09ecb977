"""Full-host lab nodes end to end: the real-host path from a bare Debian, and reboots.

Every node boots the *base* image (Debian minbase with systemd and sshd: no OpenStack
package, no virtualenv), and every site is deployed in real-host mode (the DCN_SSH_*
settings: no lab shortcut), so the whole path a real host takes runs here: Debian
packages through the lab's proxy, the distribution's units stopped, the OpenStack
virtualenv from constraints/openstack.txt, every process a systemd unit. Then an
edge compute and the controller are rebooted (`dcn lab node reboot`): everything comes
back by itself, and a new server boots in that zone; the time from the reboot to that
server being ACTIVE is printed.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcn.cloud import admin_connection, ensure_image_and_flavor
from dcn.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
DCN = [sys.executable, "-m", "dcn.cli"]
EXAMPLE = ROOT / "examples" / "dcn-basic.yaml"
EDGES = ("dcn0", "dcn1")
#: a rebooted site gets this long to boot a server again (a bound, not a figure)
USABLE_WAIT = 600

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="full-host nodes need root"),
    pytest.mark.skipif(shutil.which("systemd-nspawn") is None, reason="needs systemd-container"),
    pytest.mark.skipif(shutil.which("mmdebstrap") is None, reason="needs mmdebstrap"),
]


class FullHostLab:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.file = workdir / "dcn.yaml"
        self.state = workdir / "state"
        self.figures: dict[str, float] = {}

    def dcn(self, *args: str, env: dict[str, str] | None = None) -> str:
        full = {
            **os.environ,
            "DCN_LAB_IMAGE": "base",
            "DCN_FILE": str(self.file),
            "DCN_STATE_DIR": str(self.state),
            "COLUMNS": "200",
            **(env or {}),
        }
        result = subprocess.run(
            [*DCN, *args], env=full, cwd=self.workdir, capture_output=True, text=True, timeout=1800
        )
        if result.returncode != 0:
            command = " ".join(args)
            raise AssertionError(
                f"dcn {command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result.stdout

    def real_host(self) -> dict[str, str]:
        """Real-host mode: the lab's key and host keys, nothing else of the lab."""
        return {
            "DCN_SSH_KEY": str(self.state / "lab" / "id_ed25519"),
            "DCN_KNOWN_HOSTS": str(self.state / "lab" / "known_hosts"),
        }

    def inside(self, node: str, *command: str) -> str:
        return self.dcn("lab", "exec", node, *command)

    def timed(self, name: str, *args: str, env: dict[str, str] | None = None) -> str:
        start = time.monotonic()
        out = self.dcn(*args, env=env)
        self.figures[name] = round(time.monotonic() - start, 1)
        return out


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullHostLab]:
    lab = FullHostLab(tmp_path_factory.mktemp("fullhost"))
    shutil.copy(EXAMPLE, lab.file)
    try:
        lab.timed("lab up (base image)", "lab", "up")
        lab.timed("deploy central (real-host mode)", "deploy", "central", env=lab.real_host())
        lab.timed(
            "deploy edges (real-host mode)",
            "deploy",
            *EDGES,
            "--parallel",
            "2",
            env=lab.real_host(),
        )
        lab.timed("smoke", "smoke")
        yield lab
    finally:
        try:
            lab.dcn("lab", "down")
        finally:
            print(json.dumps({"fullhost figures (s)": lab.figures}), file=sys.__stderr__)


def test_nodes_are_full_hosts_that_got_what_a_real_host_gets(lab: FullHostLab) -> None:
    """systemd is PID 1 in each node, which has its own name; the real-host
    prerequisites ran (packages, the virtualenv), and each process is an enabled unit:
    dcn's own for OpenStack, Debian's (with dcn's drop-in) for MariaDB and RabbitMQ."""
    ids = set()
    for node in ("central-controller-0", "dcn0-distributedcompute-0"):
        assert lab.inside(node, "systemctl", "is-system-running").strip() in ("running", "degraded")
        assert lab.inside(node, "hostname").strip() == node
        ids.add(lab.inside(node, "cat", "/etc/machine-id").strip())
        units = json.loads(lab.inside(node, "python3", "/var/lib/dcn/unitctl.py", "status"))
        assert units and all(u["enabled"] == "enabled" for u in units.values()), units
        assert all(u["state"] == "active" for u in units.values()), units
        assert all(u["digest"] == u["file_digest"] for u in units.values()), units
        assert lab.inside(node, "test", "-x", "/opt/dcn/venv/bin/nova-compute") == ""
    assert len(ids) == 2
    units = lab.inside(
        "central-controller-0", "systemctl", "is-enabled", "mariadb", "rabbitmq-server"
    )
    assert units.split() == ["enabled", "enabled"]
    drop_in = lab.inside(
        "central-controller-0", "cat", "/etc/systemd/system/mariadb.service.d/dcn.conf"
    )
    assert "DCN_DIGEST=" in drop_in and "Restart=on-failure" in drop_in


def _reporting(conn: object, host: str, after: datetime.datetime) -> bool:
    """Whether `host`'s nova-compute is up and reported after `after` (UTC): its
    messages reach the control plane again, and it listens for its own."""
    for svc in conn.compute.services(binary="nova-compute", host=host):  # type: ignore[attr-defined]
        updated = datetime.datetime.fromisoformat(svc.updated_at.replace("Z", "+00:00"))
        if updated.tzinfo is None:
            updated = updated.replace(tzinfo=datetime.UTC)
        if svc.state == "up" and updated > after:
            return True
    return False


def _boot_and_time(lab: FullHostLab, name: str, az: str, since: float) -> float:
    """Once the zone's compute reports again after the reboot (the APIs answering
    first), boot a server there until ACTIVE; seconds from `since`.

    Waiting for a fresh report first: a server requested while the broker's queues are
    being declared again can lose its build message and stay in BUILD (nova does not
    retry it); an operator would see the compute down until then."""
    deadline = time.monotonic() + USABLE_WAIT
    after = datetime.datetime.now(datetime.UTC) - datetime.timedelta(
        seconds=time.monotonic() - since
    )
    host = f"{az}-distributedcompute-0"
    while True:
        try:
            conn = admin_connection(Workspace(lab.file, lab.state))
            if not _reporting(conn, host, after):
                raise LookupError(f"{host} has not reported since the reboot")
            image, flavor = ensure_image_and_flavor(conn)
            server = conn.compute.create_server(
                name=name,
                image_id=image.id,
                flavor_id=flavor.id,
                networks="none",
                availability_zone=az,
            )
            break
        except Exception:  # the APIs are still coming back: bounded by USABLE_WAIT
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
    left = max(1, int(deadline - time.monotonic()))
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=left)
    assert server.availability_zone == az
    return round(time.monotonic() - since, 1)


def test_an_edge_compute_comes_back_after_a_reboot(lab: FullHostLab) -> None:
    node = "dcn0-distributedcompute-0"
    before = json.loads(lab.inside(node, "python3", "/var/lib/dcn/unitctl.py", "status"))
    start = time.monotonic()
    assert "running" in lab.dcn("lab", "node", "reboot", node)
    lab.figures["edge node reboot to running"] = round(time.monotonic() - start, 1)
    lab.figures["edge reboot to server ACTIVE"] = _boot_and_time(
        lab, "after-edge-reboot", "dcn0", start
    )
    after = json.loads(lab.inside(node, "python3", "/var/lib/dcn/unitctl.py", "status"))
    assert after["nova-compute"]["state"] == "active"
    assert after["nova-compute"]["pid"] != before["nova-compute"]["pid"]


def test_the_controller_comes_back_after_a_reboot(lab: FullHostLab) -> None:
    node = "central-controller-0"
    start = time.monotonic()
    assert "running" in lab.dcn("lab", "node", "reboot", node)
    lab.figures["controller reboot to server ACTIVE in dcn1"] = _boot_and_time(
        lab, "after-controller-reboot", "dcn1", start
    )
    status = json.loads(lab.inside(node, "python3", "/var/lib/dcn/unitctl.py", "status"))
    assert {s["state"] for s in status.values()} == {"active"}


def test_a_node_that_lost_power_starts_again(lab: FullHostLab) -> None:
    node = "dcn1-distributedcompute-0"
    lab.dcn("lab", "node", "stop", node)
    rows = {r["node"]: r for r in json.loads(lab.dcn("lab", "status", "--format", "json"))}
    assert rows[node]["sshd"] is False
    start = time.monotonic()
    lab.dcn("lab", "node", "start", node)
    lab.figures["edge power-on to server ACTIVE"] = _boot_and_time(
        lab, "after-power-loss", "dcn1", start
    )
