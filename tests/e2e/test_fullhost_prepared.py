"""End to end: the prepared node image (the deploy's prerequisite tasks run once on a
build node) and a node booted from it.

Ensures the prepared image (building the base image and running the real
``prerequisites.yml`` with ansible-playbook when it is not cached), checks that a second
call takes it from the cache, boots one node from it in a network namespace of its own
(prefix ``fh-``) and checks inside what a real host has after its first deploy: MariaDB
and RabbitMQ installed with their distribution units disabled and stopped, the OpenStack
virtualenv with its stamp, python3-apt for Ansible; and that nothing per node or of the
build stayed in the image. Removes the node and its namespace. Needs root, mmdebstrap,
systemd-container and the Debian mirror and PyPI (through the build's proxy).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcn.deploy.prepared import NETNS_PREFIX, ensure_prepared_image
from dcn.lab.image import META, Image
from dcn.lab.machine import Machine
from dcn.lab.prereqs import stamp_path

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0,
        reason="the prepared image and its nodes need root (namespaces, mounts, nspawn)",
    ),
    # a cold build installs packages and the OpenStack venv: a hang guard, not a threshold
    pytest.mark.timeout(3600),
]

VENV = Path("/opt/dcn/venv")


@pytest.fixture(scope="module")
def prepared() -> Image:
    started = time.monotonic()
    image = ensure_prepared_image()
    cold = time.monotonic() - started
    meta = json.loads((image.root.parent / META).read_text())
    print(
        f"\nprepared image {image.digest}: built={image.built} in {cold:.1f} s, "
        f"{meta.get('size_bytes', 0) / 2**20:.0f} MiB, tasks {meta.get('tasks')}"
    )
    return image


def test_second_call_comes_from_the_cache(prepared: Image) -> None:
    started = time.monotonic()
    again = ensure_prepared_image()
    print(f"\ncached call {time.monotonic() - started:.2f} s")
    assert again.built is False
    assert again.root == prepared.root and again.digest == prepared.digest


def test_build_left_nothing_running_or_mounted(prepared: Image) -> None:
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"{NETNS_PREFIX}{os.getpid()}" not in names
    with open("/proc/self/mountinfo") as f:
        assert str(prepared.root.parent.parent / ".prepare-") not in f.read()
    assert not list(prepared.root.parent.parent.glob(f".prepare-{prepared.digest}-*"))


def test_image_holds_nothing_per_node(prepared: Image) -> None:
    root = prepared.root
    assert not list((root / "etc/ssh").glob("ssh_host_*"))
    assert (root / "etc/machine-id").read_text() == ""
    assert not (root / "etc/hostname").exists()
    assert not (root / "root/.ssh/authorized_keys").exists()
    # the build's proxy is gone: a node gets the lab's (dcn.lab.proxy.node_files)
    assert not (root / "etc/apt/apt.conf.d/80dcn-proxy").exists()
    assert not (root / "etc/pip.conf").exists()
    assert not (root / "var/lib/rabbitmq/.erlang.cookie").exists()
    assert not list((root / "var/cache/apt/archives").glob("*.deb"))
    assert not any((root / "var/log/journal").iterdir())


@pytest.fixture(scope="module")
def node(prepared: Image, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    workdir = tmp_path_factory.mktemp("prepared")
    tag = f"{os.getpid() % 100000}"
    netns = f"fh-{tag}-prep"
    subprocess.run(["ip", "netns", "add", netns], check=True, capture_output=True)
    machine = Machine(
        name=f"fh-{tag}-prep",
        node_dir=workdir / "node",
        image=prepared.root,
        netns=netns,
        hostname="fh-prep",
    )
    try:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        started = time.monotonic()
        machine.start()
        print(f"\nnode from the prepared image: running in {time.monotonic() - started:.2f} s")
        yield machine
    finally:
        machine.remove()
        subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)


def _out(m: Machine, *args: str) -> str:
    return m.exec(list(args), timeout=60).stdout.strip()


def test_node_has_the_packages_with_their_units_off(node: Machine) -> None:
    for package in ("mariadb-server", "rabbitmq-server"):
        status = _out(node, "dpkg-query", "-W", "-f", "${db:Status-Status}", package)
        assert status == "installed", package
    for unit in ("mariadb", "rabbitmq-server"):
        assert _out(node, "systemctl", "is-enabled", unit) == "disabled", unit
        assert _out(node, "systemctl", "is-active", unit) == "inactive", unit


def test_node_has_the_openstack_venv_and_its_stamp(node: Machine) -> None:
    assert node.exec(["test", "-x", str(VENV / "bin" / "nova-compute")]).returncode == 0
    assert node.exec(["test", "-f", str(stamp_path(VENV))]).returncode == 0
    version = node.exec([str(VENV / "bin" / "nova-manage"), "--version"], timeout=120)
    assert version.returncode == 0, version.stderr[-2000:]


def test_node_has_python3_apt_and_its_own_identity(node: Machine) -> None:
    assert node.exec(["python3", "-c", "import apt"]).returncode == 0
    assert _out(node, "hostname") == "fh-prep"
    assert len(_out(node, "cat", "/etc/machine-id")) == 32
    assert _out(node, "systemctl", "is-active", "ssh") == "active"
