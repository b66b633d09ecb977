"""End to end: full-host lab nodes (systemd-nspawn on an overlay of the node image).

Builds the node image (or reuses the cached one), boots two nodes in network
namespaces of their own (prefix ``fh-``, a veth to the machine in 10.250.0.0/24), and
checks what a real host does: systemd running, sshd answering with the node's own host
key, a unit restarted by systemd after kill -9, a reboot from inside, a power loss and
a start, a clean shutdown; then removes everything. Needs root; the packages it needs
(mmdebstrap, systemd-container, openssh-client, iproute2) are installed by the CI script.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dcn.lab import proxy
from dcn.lab.image import ensure_image
from dcn.lab.machine import Machine

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0,
        reason="full-host lab nodes need root (network namespaces, mounts, systemd-nspawn)",
    ),
]

UNIT = """[Unit]
Description=dcn test: restarted by systemd when it dies
[Service]
ExecStart=/bin/sleep infinity
Restart=on-failure
RestartSec=1
[Install]
WantedBy=multi-user.target
"""
#: a safety net for polling loops, not a performance threshold
PATIENCE = 120.0


@dataclass
class Node:
    machine: Machine
    address: str


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _wait_for(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fullhost")


@pytest.fixture(scope="module")
def client_key(workdir: Path) -> Path:
    key = workdir / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dcn-test", "-f", str(key)],
        check=True,
    )
    return key


@pytest.fixture(scope="module")
def nodes(workdir: Path, client_key: Path) -> Iterator[list[Node]]:
    started = time.monotonic()
    image = ensure_image()
    print(f"\nnode image {image.digest}: built={image.built} in {time.monotonic() - started:.1f} s")
    tag = f"{os.getpid() % 100000}"
    created: list[tuple[str, str]] = []
    result: list[Node] = []
    try:
        for i in range(2):
            netns, host_if = f"fh-{tag}-{i}", f"fh{tag}h{i}"
            host_ip, node_ip = f"10.250.0.{4 * i + 1}", f"10.250.0.{4 * i + 2}"
            _ip("netns", "add", netns)
            created.append((netns, host_if))
            _ip("link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", netns)
            _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
            _ip("link", "set", host_if, "up")
            _ip("-n", netns, "addr", "add", f"{node_ip}/30", "dev", "eth0")
            _ip("-n", netns, "link", "set", "eth0", "up")
            _ip("-n", netns, "link", "set", "lo", "up")
            machine = Machine(
                name=f"fh-{tag}-node{i}",
                node_dir=workdir / f"node{i}",
                image=image.root,
                netns=netns,
                hostname=f"fh-node{i}",
                authorized_key=client_key.with_suffix(".pub").read_text(),
            )
            result.append(Node(machine, node_ip))
        for node in result:
            t = time.monotonic()
            node.machine.start()
            print(f"{node.machine.name}: start to running {time.monotonic() - t:.2f} s")
        yield result
    finally:
        for node in result:
            node.machine.remove()
        for netns, host_if in created:
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)
            subprocess.run(["ip", "link", "del", host_if], capture_output=True, check=False)


def _ssh(node: Node, key: Path, known_hosts: Path, command: str) -> str:
    result = subprocess.run(
        [
            "ssh",
            "-i",
            str(key),
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "ConnectTimeout=10",
            f"root@{node.address}",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_nodes_boot_with_systemd_and_sshd(nodes: list[Node], client_key: Path) -> None:
    for node in nodes:
        m = node.machine
        state = m.exec(["systemctl", "is-system-running"]).stdout.strip()
        assert state in ("running", "degraded"), m.journal_tail()
        assert m.exec(["systemctl", "is-active", "ssh"]).stdout.strip() == "active"
        assert m.exec(["cat", "/proc/1/comm"]).stdout.strip() == "systemd"
        # the node's own host key, checked strictly: it is what sshd presents
        pub = (m.root / "etc" / "ssh" / "ssh_host_ed25519_key.pub").read_text().split()
        known = m.node_dir.parent / f"known_hosts_{m.name}"
        known.write_text(f"{node.address} {pub[0]} {pub[1]}\n")
        assert _ssh(node, client_key, known, "hostname") == m.hostname


def test_identity_is_per_node(nodes: list[Node]) -> None:
    names = [n.machine.exec(["hostname"]).stdout.strip() for n in nodes]
    ids = [n.machine.exec(["cat", "/etc/machine-id"]).stdout.strip() for n in nodes]
    keys = [
        (n.machine.root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()[1] for n in nodes
    ]
    assert names == ["fh-node0", "fh-node1"]
    assert len(set(ids)) == 2 and all(len(i) == 32 for i in ids)
    assert len(set(keys)) == 2
    # nothing per node leaked into the shared image
    assert not list((nodes[0].machine.image / "etc/ssh").glob("ssh_host_*"))


@pytest.fixture(scope="module")
def proxy_url(nodes: list[Node], workdir: Path) -> Iterator[str]:
    """The lab proxy on node0's host side (the machine does not forward for namespaces)."""
    run_dir = workdir / "proxy"
    url = proxy.start("10.250.0.1", ["10.250.0.0/24"], run_dir)
    yield url
    proxy.stop(run_dir)


def test_node_reaches_mirror_and_pypi_through_proxy(nodes: list[Node], proxy_url: str) -> None:
    m = nodes[0].machine
    for path, text in proxy.node_files(proxy_url).items():
        m.exec(["sh", "-c", f"cat > {path}"], input=text, check=True)
    t = time.monotonic()
    m.exec(["apt-get", "install", "-y", "-q", "--no-install-recommends", "jq"], check=True)
    print(f"\napt-get install jq through the proxy {time.monotonic() - t:.1f} s")
    assert m.exec(["jq", "--version"]).stdout.startswith("jq-")
    m.exec(
        [
            "sh",
            "-c",
            "python3 -m venv /opt/fh && /opt/fh/bin/pip download -q --no-deps -d /tmp/w six",
        ],
        check=True,
        timeout=300,
    )
    assert m.exec(["ls", "/tmp/w"]).stdout.startswith("six-")


def _main_pid(m: Machine) -> str:
    return m.exec(["systemctl", "show", "-P", "MainPID", "fh-sleeper"]).stdout.strip()


def test_unit_restarted_after_kill(nodes: list[Node]) -> None:
    m = nodes[0].machine
    m.exec(["sh", "-c", "cat > /etc/systemd/system/fh-sleeper.service"], input=UNIT, check=True)
    m.exec(["systemctl", "enable", "--now", "fh-sleeper"], check=True)
    old = _main_pid(m)
    assert old not in ("", "0")
    m.exec(["kill", "-9", old], check=True)
    _wait_for("fh-sleeper restarted", lambda: _main_pid(m) not in ("0", old))
    assert m.exec(["systemctl", "is-active", "fh-sleeper"]).stdout.strip() == "active"


def test_reboot_from_inside(nodes: list[Node]) -> None:
    m = nodes[0].machine
    launcher, leader = m.launcher_pid(), m.leader_pid()
    mid = m.exec(["cat", "/etc/machine-id"]).stdout.strip()
    t = time.monotonic()
    state = m.reboot()
    print(f"\nreboot to running {time.monotonic() - t:.2f} s")
    assert state in ("running", "degraded")
    assert m.launcher_pid() == launcher  # the same launcher booted it again
    assert m.leader_pid() not in (None, leader)
    assert m.exec(["cat", "/etc/machine-id"]).stdout.strip() == mid
    _wait_for("fh-sleeper after reboot", lambda: _main_pid(m) not in ("", "0"))


def test_power_loss_then_start(nodes: list[Node], client_key: Path) -> None:
    m = nodes[1].machine
    key = (m.root / "etc/ssh/ssh_host_ed25519_key.pub").read_text()
    t = time.monotonic()
    m.stop()
    print(f"\nstop {time.monotonic() - t:.2f} s")
    assert not m.is_running() and m.launcher_pid() is None and m.processes() == []
    t = time.monotonic()
    assert m.start() in ("running", "degraded")
    print(f"start after stop to running {time.monotonic() - t:.2f} s")
    # the same node: its host key (and with it its upper layer) survived
    assert (m.root / "etc/ssh/ssh_host_ed25519_key.pub").read_text() == key
    known = m.node_dir.parent / f"known_hosts_{m.name}"
    assert _ssh(nodes[1], client_key, known, "systemctl is-active ssh") == "active"


def test_memory_of_idle_nodes(nodes: list[Node]) -> None:
    for node in nodes:
        pss = node.machine.memory_pss_kib()
        print(f"\n{node.machine.name}: PSS {pss / 1024:.1f} MiB")
        assert pss > 0


def test_shutdown_and_remove(nodes: list[Node]) -> None:
    m = nodes[1].machine
    assert m.shutdown() is True
    assert not m.is_running()
    m.remove()
    assert not m.node_dir.exists()
    with open("/proc/self/mountinfo") as f:
        assert str(m.node_dir) not in f.read()
