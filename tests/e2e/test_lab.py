"""End to end on the local lab: the main job, separate management of sites, faults
caught before any host is touched, secrets kept out of outputs, and clean teardown.

One lab for the whole module (bringing it up and deploying central is most of the
time). Needs root and iproute2; `dcn lab up` itself installs what the lab needs and
builds (or reuses) the node image, as on a fresh machine. Each node is a full host
(systemd-nspawn), each process a systemd unit there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcn.cloud import admin_connection, list_servers
from dcn.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
DCN = [sys.executable, "-m", "dcn.cli"]
EXAMPLE = ROOT / "examples" / "dcn-basic.yaml"
EDGES = ("dcn0", "dcn1")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="the lab needs iproute2"),
]


class Lab:
    """The deployment under test and every command's output (to search for secrets)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.file = workdir / "dcn.yaml"
        self.state = workdir / "state"
        self.outputs: list[str] = []

    def dcn(
        self,
        *args: str,
        check: bool = True,
        file: Path | None = None,
        state: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            **(env or {}),
            "DCN_FILE": str(file or self.file),
            "DCN_STATE_DIR": str(state or self.state),
            "COLUMNS": "200",
        }
        result = subprocess.run(
            [*DCN, *args],
            env=env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=900,
        )
        self.outputs.append(result.stdout + result.stderr)
        if check and result.returncode != 0:
            raise AssertionError(
                f"dcn {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def ws(self) -> Workspace:
        return Workspace(self.file, self.state)

    def node_root(self, hostname: str) -> Path:
        return self.state / "lab" / "nodes" / hostname / "root"

    def units(self, hostname: str) -> dict[str, dict]:
        """dcn's processes on the node: each one's systemd unit and its state."""
        out = self.dcn("lab", "exec", hostname, "python3", "/var/lib/dcn/unitctl.py", "status")
        return json.loads(out.stdout)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("lab"))
    shutil.copy(EXAMPLE, lab.file)
    try:
        lab.dcn("lab", "up")
        lab.dcn("deploy", "central")
        lab.dcn("export", "central", "-o", str(lab.workdir / "central-export.yaml"))
        lab.dcn("deploy", *EDGES, "--parallel", "2")
        lab.dcn("smoke")
        yield lab
    finally:
        lab.dcn("lab", "down", check=False)


def test_a_server_is_active_in_each_edge_zone_on_a_host_of_its_site(lab: Lab) -> None:
    """The main job's claim: one ACTIVE server per edge AZ, on a node of that site."""
    servers = {s.name: s for s in list_servers(lab.ws())}
    edge_hosts = {n.hostname: n.site for n in _lab_nodes(lab) if n.site in EDGES}
    for site in EDGES:
        server = servers[f"dcn-smoke-{site}"]
        assert server.status == "ACTIVE"
        assert server.az == site
        assert edge_hosts.get(server.host) == site
        assert server.site == site


def test_smoke_servers_are_on_their_sites_segment_and_their_guests_answer(lab: Lab) -> None:
    """ML2/OVN with a routed provider network: each edge compute is a chassis named as
    nova's host; the deploy created the network with a segment and subnet per site;
    each smoke server's port is bound on its site's compute with an address of its
    site's segment; its guest got that address by DHCP, pings its site's gateway, and
    at dcn1 (metadata route) reads its own metadata; dcn0's server has a config drive."""
    conn = admin_connection(lab.ws())
    chassis = lab.dcn(
        "lab",
        "exec",
        "central-controller-0",
        "ovn-sbctl",
        "--bare",
        "--columns=name",
        "list",
        "Chassis",
    ).stdout.split()
    assert sorted(chassis) == ["dcn0-distributedcompute-0", "dcn1-distributedcompute-0"]
    net = conn.network.find_network("edge-provider")
    assert net is not None
    segments = {s.physical_network: s for s in conn.network.segments(network_id=net.id)}
    assert set(segments) == {"physnet-dcn0", "physnet-dcn1"}
    subnets = {s.segment_id: s for s in conn.network.subnets(network_id=net.id)}
    cidr = {"dcn0": "198.18.64.0/24", "dcn1": "198.18.65.0/24"}
    for site in EDGES:
        subnet = subnets[segments[f"physnet-{site}"].id]
        assert subnet.cidr == cidr[site] and subnet.is_dhcp_enabled
        assert subnet.gateway_ip == cidr[site].replace("0/24", "1")
    # the control plane's deploy ensured flavors a normal project can boot (a disk)
    flavor = conn.compute.find_flavor("dcn.tiny")
    assert flavor is not None and flavor.disk >= 1
    guests = lab.dcn("lab", "workload", "list").stdout
    for site in EDGES:
        server = conn.compute.find_server(f"dcn-smoke-{site}")
        (port,) = list(conn.network.ports(device_id=server.id))
        assert port.binding_host_id == f"{site}-distributedcompute-0"
        assert port.binding_vif_type == "ovs"
        (ip,) = [x["ip_address"] for x in port.fixed_ips]
        assert ip.startswith(cidr[site][: -len("0/24")])
        assert f"dcn-smoke-{site}" in guests
        inside = lab.dcn("lab", "workload", "exec", f"dcn-smoke-{site}", "ip", "-4", "addr").stdout
        assert f"inet {ip}/24" in inside
        ping = lab.dcn(
            "lab",
            "workload",
            "exec",
            f"dcn-smoke-{site}",
            "busybox",
            "ping",
            "-c",
            "2",
            "-W",
            "2",
            subnet_gateway(cidr[site]),
        ).stdout
        assert "0% packet loss" in ping
    meta = lab.dcn(
        "lab",
        "workload",
        "exec",
        "dcn-smoke-dcn1",
        "python3",
        "-c",
        "import urllib.request as u; print(u.urlopen("
        "'http://169.254.169.254/openstack/latest/meta_data.json', timeout=10).read().decode())",
    ).stdout
    assert json.loads(meta)["uuid"] == conn.compute.find_server("dcn-smoke-dcn1").id
    assert str(conn.compute.find_server("dcn-smoke-dcn0").config_drive).lower() == "true"


def subnet_gateway(cidr: str) -> str:
    return cidr.replace("0/24", "1")


def test_status_shows_every_site_deployed(lab: Lab) -> None:
    rows = json.loads(lab.dcn("status", "--format", "json").stdout)
    by_site = {r["site"]: r for r in rows}
    assert set(by_site) == {"central", *EDGES}
    for row in by_site.values():
        assert row["status"] == "deployed"
        assert row["stale"] is False


def test_the_real_openstack_client_works_with_dcn_credentials(lab: Lab) -> None:
    """dcn credentials writes a 0600 clouds.yaml; the openstack client lists the smoke
    servers through the public endpoints (the catalog's public interface is served)."""
    clouds = lab.workdir / "clouds.yaml"
    lab.dcn("credentials", "-o", str(clouds))
    assert clouds.stat().st_mode & 0o077 == 0
    refused = lab.dcn("credentials", "-o", str(clouds), check=False)
    assert refused.returncode != 0 and "--force" in refused.stdout + refused.stderr
    client = Path(sys.executable).parent / "openstack"
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds)}
    listed = subprocess.run(
        [str(client), "--os-cloud", "lab", "server", "list", "-f", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    names = {s["Name"] for s in json.loads(listed.stdout)}
    assert {f"dcn-smoke-{site}" for site in EDGES} <= names
    secrets = lab.ws().store.get_secrets("lab").values()
    assert not any(v in listed.stdout + listed.stderr for v in secrets if len(v) >= 8)


def test_health_shows_every_site_reaching_the_control_plane(lab: Lab) -> None:
    rows = json.loads(lab.dcn("health", "--format", "json").stdout)
    by_site = {r["site"]: r for r in rows}
    assert set(by_site) == {"central", *EDGES}
    for site, row in by_site.items():
        assert row["reachable"], site
        assert row["last_seen"]
        for name, e in row["endpoints"].items():
            assert e["reachable_from"] == e["nodes"] >= 1, (site, name, e)
            assert e["max_ms"] is not None
    for site in EDGES:
        assert set(by_site[site]["computes"].values()) == {"up"}
        assert by_site[site]["servers"] >= 1


def test_health_shows_a_cut_site_as_unreachable_with_last_seen(lab: Lab) -> None:
    lab.dcn("health", "dcn1")  # seen now
    lab.dcn("lab", "cut", "dcn1")
    try:
        assert "cut" in lab.dcn("lab", "status").stdout
        result = lab.dcn("health", "dcn1", "--format", "json")
        (row,) = json.loads(result.stdout)
        assert row["reachable"] is False
        assert row["last_seen"]
        text = lab.dcn("health", "dcn1").stdout
        assert "unreachable" in text and "ago" in text
    finally:
        lab.dcn("lab", "heal", "dcn1")
    (row,) = json.loads(lab.dcn("health", "dcn1", "--format", "json").stdout)
    assert row["reachable"] is True


def test_edge_site_loss_drill_with_a_short_cut(lab: Lab) -> None:
    """The seed's edge-loss claims on the real cloud: servers stay ACTIVE, the other
    site works during the cut, computes reconnect by themselves."""
    out = lab.dcn(
        "drill", "run", "edge-site-loss", "--site", "dcn1", "--cut", "20", "--format", "json"
    ).stdout
    (report,) = json.loads(out)
    claims = {c["claim"]: c for c in report["claims"]}
    # the data plane: two guests at dcn1 ping their gateway and each other through the
    # cut (site-local: nothing lost), metadata (over the WAN) fails and comes back
    figures = report["figures"]
    assert figures["gateway_pings_sent"] and figures["peer_pings_sent"]
    assert claims["edge-data-plane"]["held"] is True, claims["edge-data-plane"]
    assert claims["metadata-route"]["held"] is True, claims["metadata-route"]
    assert claims["edge-keeps-running"]["held"] is True, claims["edge-keeps-running"]
    assert claims["edge-isolated"]["held"] is True, claims["edge-isolated"]
    assert claims["reconnect"]["held"] is True, claims["reconnect"]
    assert "not-resumed" in claims  # judged either way: the report says what happened
    assert report["figures"]["computes_up_after_heal"] is not None
    # the marks its picture is drawn from, recorded where the drill acted
    kinds = {m["kind"] for m in report["marks"]}
    assert {"fault", "heal", "compute", "attempt", "boot", "packets"} <= kinds, kinds
    from dcn.pictures.timeline import timeline_svg

    ids = {e.get("id") for e in ET.fromstring(timeline_svg(report)).iter()}
    assert {"fault-0", "compute-0-up", "attempts-ok", "packets-0"} <= ids, ids
    listed = lab.dcn("drill", "list").stdout
    assert "edge-site-loss" in listed
    health = {r["site"]: r for r in json.loads(lab.dcn("health", "--format", "json").stdout)}
    assert health["dcn1"]["reachable"]


def test_tempest_passes_the_network_area(lab: Lab) -> None:
    """`dcn verify`: Tempest (installed on first use) against the deployed cloud, its
    network tests (networks, subnets, ports, security groups, routers) with no failure;
    tempest.conf holds the admin password and is the operator's alone."""
    out = lab.dcn(
        "verify",
        "--regex",
        r"^tempest\.api\.network\.(test_networks|test_ports|test_security_groups|test_routers)",
        "--format",
        "json",
        check=False,
    )
    doc = json.loads(out.stdout)
    network = next(a for a in doc["areas"] if a["area"] == "network")
    assert network["passed"] >= 20, network
    assert network["failed"] == 0, network
    assert out.returncode == 0
    conf = lab.state / "tempest" / "workspace" / "etc" / "tempest.conf"
    assert conf.stat().st_mode & 0o077 == 0


def test_second_deploy_changes_nothing(lab: Lab) -> None:
    before = lab.units("dcn1-distributedcompute-0")
    out = lab.dcn("deploy", "dcn1").stdout
    assert "no changes on any host" in out
    after = lab.units("dcn1-distributedcompute-0")
    assert after["nova-compute"]["pid"] == before["nova-compute"]["pid"]


def test_services_are_units_that_systemd_restarts_after_a_crash(lab: Lab) -> None:
    """`dcn lab service` goes through systemctl: a killed process comes back by itself
    (Restart=on-failure), a stopped one stays stopped until started."""
    node = "dcn1-distributedcompute-0"
    before = lab.units(node)["nova-compute"]
    assert before["unit"] == "dcn-nova-compute.service" and before["enabled"] == "enabled"
    lab.dcn("lab", "service", node, "kill", "nova-compute")
    deadline = time.monotonic() + 120
    now = lab.units(node)["nova-compute"]
    while not (now["state"] == "active" and now["pid"] != before["pid"]):
        assert time.monotonic() < deadline, f"not restarted after a kill: {now}"
        time.sleep(1)
        now = lab.units(node)["nova-compute"]
    assert now["restarts"] == before["restarts"] + 1
    lab.dcn("lab", "service", node, "stop", "nova-compute")
    assert lab.units(node)["nova-compute"]["state"] == "inactive"
    lab.dcn("lab", "service", node, "start", "nova-compute")
    assert lab.units(node)["nova-compute"]["state"] in ("active", "activating")
    # the controller's database and broker run as Debian's units, as their own users
    ctl = lab.units("central-controller-0")
    assert ctl["mariadb"]["unit"] == "mariadb.service" and ctl["mariadb"]["state"] == "active"
    assert ctl["rabbitmq"]["unit"] == "rabbitmq-server.service"
    users = lab.dcn(
        "lab",
        "exec",
        "central-controller-0",
        "ps",
        "-o",
        "user=",
        "-p",
        f"{ctl['mariadb']['pid']},{ctl['rabbitmq']['pid']}",
    ).stdout.split()
    assert sorted(users) == ["mysql", "rabbitmq"]


def test_updating_one_edge_leaves_other_sites_untouched(lab: Lab) -> None:
    """Separate management: a change to dcn0 restarts dcn0's compute and nothing else."""
    others = ["central-controller-0", "dcn1-distributedcompute-0"]
    files_before = {h: _tree(lab.node_root(h) / "etc") for h in others}
    procs_before = {h: _pids(lab.units(h)) for h in others}
    gens_before = _generations(lab, exclude="dcn0")
    dcn0_before = lab.units("dcn0-distributedcompute-0")["nova-compute"]

    text = lab.file.read_text().replace(
        "    instance_storage: ephemeral\n",
        "    instance_storage: ephemeral\n"
        "    config_overrides:\n"
        "      nova.conf: {DEFAULT: {debug: true}}\n",
        1,
    )
    assert "debug: true" in text
    lab.file.write_text(text)
    out = lab.dcn("deploy", "dcn0").stdout
    assert "deployed" in out

    dcn0_after = lab.units("dcn0-distributedcompute-0")["nova-compute"]
    assert dcn0_after["pid"] != dcn0_before["pid"], "the changed compute was restarted"
    conf = (lab.node_root("dcn0-distributedcompute-0") / "etc/nova/nova.conf").read_text()
    assert "debug = True" in conf
    for host in others:
        assert _tree(lab.node_root(host) / "etc") == files_before[host], host
        assert _pids(lab.units(host)) == procs_before[host], host
    assert _generations(lab, exclude="dcn0") == gens_before


def test_faults_are_caught_before_any_host_is_touched(lab: Lab) -> None:
    """A control plane not deployed and unreachable hosts: clear error, nothing touched."""
    other = lab.workdir / "other"
    other.mkdir()
    moved = other / "dcn.yaml"
    # dcn0's node at an address of its leaf where nothing answers (inside the lab)
    moved.write_text(
        lab.file.read_text().replace(
            "DistributedCompute: {count: 1}",
            "DistributedCompute: {count: 1, nodes: [{hostname: dcn0-distributedcompute-0,"
            " ansible_host: 198.18.1.200}]}",
            1,
        )
    )
    # another state store: real-host mode, reaching the lab's nodes with its key
    keys = {
        "DCN_SSH_KEY": str(lab.state / "lab" / "id_ed25519"),
        "DCN_KNOWN_HOSTS": str(lab.state / "lab" / "known_hosts"),
    }
    result = lab.dcn("deploy", "dcn0", check=False, file=moved, state=other / "state", env=keys)
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert "nothing was deployed" in text
    assert "not deployed" in text and "dcn deploy central" in text
    assert "unreachable" in text and "198.18.1.200" in text
    assert "Traceback" not in text
    rows = json.loads(
        lab.dcn("status", "--format", "json", file=moved, state=other / "state").stdout
    )
    assert all(r["status"] != "deploying" for r in rows)


def test_an_interrupted_deploy_converges_when_run_again(lab: Lab) -> None:
    """kill -9 of dcn alone (not its process group) mid-deploy: its Ansible run dies
    with it, status says interrupted with the gone pid and the command, the run's
    secret-bearing files are gone at the next command, and a re-run converges."""
    text = lab.file.read_text()
    marker = "  - name: dcn1\n    kind: edge\n"
    assert marker in text
    lab.file.write_text(
        text.replace(
            marker, marker + "    config_overrides:\n      nova.conf: {DEFAULT: {debug: true}}\n"
        )
    )
    env = {**os.environ, "DCN_FILE": str(lab.file), "DCN_STATE_DIR": str(lab.state)}
    proc = subprocess.Popen(
        [*DCN, "deploy", "dcn1", "-v"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # ends when the process does
        if "dcn1-distributedcompute-0" in line and line.rstrip().endswith(": ok"):
            break  # Ansible runs on the node: a task of it has finished
    os.kill(proc.pid, signal.SIGKILL)  # dcn only: its children are not signalled
    proc.wait()
    proc.stdout.close()
    runs = str(lab.state / "runs")
    deadline = time.monotonic() + 30
    left = "?"
    while time.monotonic() < deadline:
        left = subprocess.run(["pgrep", "-f", runs], capture_output=True, text=True).stdout
        if not left.strip():
            break
        time.sleep(0.5)
    assert left.strip() == "", "Ansible outlived the dcn that ran it"
    rows = {r["site"]: r for r in json.loads(lab.dcn("status", "--format", "json").stdout)}
    assert rows["dcn1"]["status"] == "interrupted"
    assert f"pid {proc.pid} gone" in rows["dcn1"]["status_text"]
    assert rows["dcn1"]["next"] == "dcn deploy dcn1"
    # any dcn command swept the dead run's host variables (they hold secrets)
    assert not any((lab.state / "runs").glob("*/inventory"))
    assert not any((lab.state / "runs").glob("*/env/extravars"))

    out = lab.dcn("deploy", "dcn1").stdout
    assert "deployed" in out
    rows = {r["site"]: r for r in json.loads(lab.dcn("status", "--format", "json").stdout)}
    assert rows["dcn1"]["status"] == "deployed"
    conf = (lab.node_root("dcn1-distributedcompute-0") / "etc/nova/nova.conf").read_text()
    assert "debug = True" in conf
    assert lab.units("dcn1-distributedcompute-0")["nova-compute"]["state"] == "active"


def test_rotated_secrets_reach_every_service(lab: Lab) -> None:
    """Rotate the broker's and nova's passwords, deploy central and roll the edges out
    (a canary, then the rest, each wave health-gated): the cloud works on the new ones.

    A server booted afterwards needs the API (keystone with nova's new password), the
    scheduler and the edge's nova-compute talking over RabbitMQ with the new password
    (set on the running broker by its `password` step)."""
    before = lab.ws().store.get_secrets("lab")
    out = lab.dcn("secrets", "rotate", "RabbitPassword", "NovaPassword").stdout
    assert "central, dcn0, dcn1" in out
    after = lab.ws().store.get_secrets("lab")
    assert all(before[n] != after[n] for n in ("RabbitPassword", "NovaPassword"))
    rows = json.loads(lab.dcn("status", "--format", "json").stdout)
    assert all(r["redeploy"] for r in rows)
    refused = lab.dcn("rollout", check=False)
    assert refused.returncode != 0 and "dcn deploy central" in refused.stdout + refused.stderr
    lab.dcn("deploy", "central")
    # the edges take the central change in waves: dcn0 alone first (the canary), each
    # wave gated on its computes up and a server booted in its AZ
    rolled = lab.dcn("rollout", "--canary", "1", "--smoke", "--format", "json")
    report = json.loads(rolled.stdout)
    assert report["status"] == "done"
    waves = {s["site"]: s["wave"] for s in report["sites"]}
    assert waves == {"dcn0": 1, "dcn1": 2}
    assert all(s["result"] == "ok" and s["generation_after"] for s in report["sites"])
    assert "wave 1 gate passed" in rolled.stderr and "wave 2 gate passed" in rolled.stderr
    assert json.loads(lab.dcn("rollout", "show", "--format", "json").stdout)["id"] == report["id"]
    assert "nothing to roll out" in lab.dcn("rollout").stdout
    rows = json.loads(lab.dcn("status", "--format", "json").stdout)
    assert not any(r["redeploy"] for r in rows)
    assert not any(r["next"] for r in rows)
    assert not any(s.name.startswith("dcn-rollout-") for s in list_servers(lab.ws()))
    from dcn.cloud import admin_connection, ensure_image_and_flavor

    conn = admin_connection(lab.ws())
    image, flavor = ensure_image_and_flavor(conn)
    server = conn.compute.create_server(
        name="after-rotation",
        image_id=image.id,
        flavor_id=flavor.id,
        networks="none",
        availability_zone="dcn0",
    )
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=300)
    servers = {s.name: s for s in list_servers(lab.ws())}
    assert servers["after-rotation"].site == "dcn0"


def _boot_on(lab: Lab, name: str, zone: str) -> None:
    """A server on the zone's segment, in `zone` (``AZ`` or ``AZ:HOST``), ACTIVE."""
    from dcn.cloud import ensure_image_and_flavor, zone_network

    conn = admin_connection(lab.ws())
    image, flavor = ensure_image_and_flavor(conn)
    network = conn.network.find_network(zone_network(lab.ws(), zone.split(":")[0]))
    server = conn.compute.create_server(
        name=name,
        image_id=image.id,
        flavor_id=flavor.id,
        networks=[{"uuid": network.id}],
        availability_zone=zone,
    )
    conn.compute.wait_for_server(server, status="ACTIVE", wait=300)


def _cloud_hosts(lab: Lab) -> dict[str, set[str]]:
    """Which hosts nova, placement and neutron still know, and each aggregate's hosts."""
    conn = admin_connection(lab.ws())
    found = {
        "services": {s.host for s in conn.compute.services(binary="nova-compute")},
        "providers": {r.name for r in conn.placement.resource_providers()},
        "agents": {a.host for a in conn.network.agents()},
    }
    for agg in conn.compute.aggregates():
        found[f"aggregate {agg.name}"] = set(agg.hosts or [])
    return found


def _set_count(lab: Lab, site: str, count: int) -> None:
    text = lab.file.read_text()
    at = text.index(f"  - name: {site}\n")
    old = text.index("DistributedCompute: {count: ", at)
    end = text.index("}", old)
    lab.file.write_text(text[:old] + f"DistributedCompute: {{count: {count}" + text[end:])


def test_a_site_scales_out_and_back_in(lab: Lab) -> None:
    """A compute added to dcn0 is built by lab up and registered by deploy, nothing else
    restarting; removing it is refused while a server runs there, then forced: nova,
    placement, neutron and the aggregate forget it and its lab node is gone."""
    new = "dcn0-distributedcompute-1"
    others = ["central-controller-0", "dcn0-distributedcompute-0", "dcn1-distributedcompute-0"]
    procs_before = {h: _pids(lab.units(h)) for h in others}
    _set_count(lab, "dcn0", 2)
    lab.dcn("lab", "up")
    assert new in {n.hostname for n in _lab_nodes(lab)}
    lab.dcn("deploy", "dcn0")
    hosts = _cloud_hosts(lab)
    assert new in hosts["services"] and new in hosts["aggregate dcn0"]
    for host in others:
        assert _pids(lab.units(host)) == procs_before[host], f"{host} was restarted"

    _boot_on(lab, "on-the-leaving-compute", f"dcn0:{new}")
    _set_count(lab, "dcn0", 1)
    refused = lab.dcn("deploy", "dcn0", check=False)
    text = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "Traceback" not in text
    assert "on-the-leaving-compute" in text and "--force" in text
    assert new in _cloud_hosts(lab)["services"], "a refused scale-in touched nothing"

    out = lab.dcn("deploy", "dcn0", "--force").stdout
    assert f"retired {new}" in out
    for what, names in _cloud_hosts(lab).items():
        assert new not in names, f"{new} left in {what}"
    assert new not in {n.hostname for n in _lab_nodes(lab)}
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"dcn-lab-{new}" not in names
    servers = {s.name for s in list_servers(lab.ws())}
    assert "on-the-leaving-compute" not in servers and "dcn-smoke-dcn0" in servers


def test_an_address_change_reaches_the_node(lab: Lab) -> None:
    """A new planned address for dcn0's compute: deploy refuses while the node does not
    hold it; lab up moves the interface; deploy then renders and runs on it."""
    host, address = "dcn0-distributedcompute-0", "198.18.17.50"
    text = lab.file.read_text()
    at = text.index("  - name: dcn0\n")
    old = text.index("DistributedCompute: {count: 1}", at)
    pinned = (
        f"DistributedCompute: {{count: 1, nodes: [{{hostname: {host}, "
        f"addresses: {{internal_api: {address}}}}}]}}"
    )
    lab.file.write_text(text[:old] + pinned + text[old + len("DistributedCompute: {count: 1}") :])
    refused = lab.dcn("deploy", "dcn0", check=False)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "Traceback" not in said
    assert f"does not hold its planned internal_api {address}" in said
    assert "dcn lab up" in said
    assert f"+{address}/24 on internal_api" in lab.dcn("lab", "up").stdout
    lab.dcn("deploy", "dcn0")
    assert address in (lab.node_root(host) / "etc/nova/nova.conf").read_text()
    conn = admin_connection(lab.ws())
    states = {s.host: s.state for s in conn.compute.services(binary="nova-compute")}
    assert states[host] == "up"


def test_a_site_gone_from_the_description_is_shown_and_decommissioned(lab: Lab) -> None:
    """dcn1 removed from the description is not hidden; decommission is refused while
    its smoke server runs, then forced: the cloud, its nodes and the lab forget it."""
    text = lab.file.read_text()
    start = text.index("  - name: dcn1\n")
    end = text.index("\n# ", start) + 1
    text = text[:start] + text[end:]
    text = "\n".join(ln for ln in text.splitlines() if "site: dcn1" not in ln) + "\n"
    lab.file.write_text(text)
    host = "dcn1-distributedcompute-0"
    rows = {r["site"]: r for r in json.loads(lab.dcn("status", "--format", "json").stdout)}
    assert rows["dcn1"]["status"] == "orphaned"
    assert rows["dcn1"]["next"] == "dcn decommission dcn1"

    refused = lab.dcn("decommission", "dcn1", "--yes", check=False)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "Traceback" not in said
    assert "dcn-smoke-dcn1" in said and "--force" in said
    assert host in _cloud_hosts(lab)["services"]

    out = lab.dcn("decommission", "dcn1", "--yes", "--force").stdout
    assert "dcn1 decommissioned" in out
    hosts = _cloud_hosts(lab)
    for what, names in hosts.items():
        assert host not in names, f"{host} left in {what}"
    assert "aggregate dcn1" not in hosts
    conn = admin_connection(lab.ws())
    assert not list(conn.network.segments(physical_network="physnet-dcn1"))
    assert "dcn-smoke-dcn1" not in {s.name for s in list_servers(lab.ws())}
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "dcn-lab-leaf-dcn1" not in names and f"dcn-lab-{host}" not in names
    assert lab.ws().store.latest_generation("lab", "dcn1").status == "removed"
    rows = {r["site"]: r for r in json.loads(lab.dcn("status", "--format", "json").stdout)}
    assert rows.get("dcn1", {}).get("status") != "orphaned"
    assert "already decommissioned" in lab.dcn("decommission", "dcn1", "--yes").stdout


def test_no_secret_in_any_output_or_readable_file(lab: Lab) -> None:
    secrets = [v for v in lab.ws().store.get_secrets("lab").values() if len(v) >= 8]
    assert secrets
    for text in lab.outputs:
        for value in secrets:
            assert value not in text
    runs = lab.state / "runs"
    for path in runs.rglob("*"):
        if path.is_file():
            body = path.read_text(errors="replace")
            for value in secrets:
                assert value not in body, f"secret value in {path}"
    assert not any(runs.glob("*/inventory")), "host variables (with secrets) were not removed"
    for host in ("central-controller-0", "dcn0-distributedcompute-0"):
        for path in (lab.node_root(host) / "etc").rglob("*"):
            if path.is_file() and any(v in path.read_text(errors="replace") for v in secrets):
                assert path.stat().st_mode & 0o007 == 0, f"{path} is world-readable"


def test_teardown_removes_everything(lab: Lab) -> None:
    lab.dcn("lab", "down")
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "dcn-lab-" not in names
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    assert "dcn-lab" not in links
    assert not (lab.state / "lab").exists()
    assert "no lab is up" in lab.dcn("lab", "status").stdout


def _lab_nodes(lab: Lab) -> list:
    from dcn.lab import Lab as LabRuntime

    manifest = LabRuntime(lab.state, "lab").manifest() or {}
    from types import SimpleNamespace

    return [SimpleNamespace(**{**v, "hostname": h}) for h, v in manifest.get("nodes", {}).items()]


def _tree(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _pids(status: dict[str, dict]) -> dict[str, tuple[int | None, int]]:
    return {name: (s["pid"], s["restarts"]) for name, s in status.items()}


def _generations(lab: Lab, exclude: str) -> dict[str, tuple[int, str]]:
    records = lab.ws().store.latest_generations("lab")
    return {k: (r.number, str(r.status)) for k, r in records.items() if k != exclude}
