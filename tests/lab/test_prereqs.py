"""What 'dcn lab prereqs' installs on the machine: only what builds and boots full-host
nodes; OpenStack, MariaDB and RabbitMQ go to the nodes. No package is installed here:
dpkg-query and apt-get are replaced by recorders."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from dcn.lab import prereqs

#: what only the nodes get (a machine that ran namespace nodes had these itself)
NODE_ONLY = ("mariadb-server", "rabbitmq-server", "openssh-server", "nova", "keystone")


def test_the_machine_gets_only_what_builds_and_boots_full_hosts() -> None:
    assert set(prereqs.FULLHOST_PACKAGES) == {
        "iproute2",
        "ethtool",
        "openssh-client",
        "mmdebstrap",
        "systemd-container",
    }
    assert not set(NODE_ONLY) & set(prereqs.FULLHOST_PACKAGES)


def test_missing_packages_reads_dpkg_for_the_machines_packages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[list[str]] = []

    def dpkg(argv: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        asked.append(argv)
        out = (
            "iproute2 installed\nethtool installed\nopenssh-client installed\n"
            "mmdebstrap config-files\n"
        )
        return subprocess.CompletedProcess(argv, 0, out, "")

    monkeypatch.setattr(prereqs.subprocess, "run", dpkg)
    assert prereqs.missing_packages() == ["mmdebstrap", "systemd-container"]
    assert asked[0][-5:] == list(prereqs.FULLHOST_PACKAGES)


@pytest.mark.parametrize(
    ("missing", "commands"),
    [
        ([], []),
        (
            ["mmdebstrap"],
            [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "mmdebstrap"]],
        ),
    ],
)
def test_install_packages_installs_only_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, missing: list[str], commands: list[list[str]]
) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(prereqs, "missing_packages", lambda packages: missing)
    monkeypatch.setattr(prereqs, "_run", lambda argv, what, env=None: ran.append(argv))
    said: list[str] = []
    assert prereqs.install_packages(said.append) is bool(missing)
    assert ran == commands
    assert bool(said) is bool(missing)


def test_the_nodes_pin_set_stays_defined_here() -> None:
    """The node image and deploys install OpenStack from these (dcn.deploy uses them)."""
    assert {"nova", "keystone", "glance", "neutron"} <= set(prereqs.OPENSTACK_REQUIREMENTS)
    assert prereqs.constraints_file().name == "openstack.txt"
    assert prereqs.stamp_path(prereqs.DEFAULT_VENV).parent == prereqs.DEFAULT_VENV


def test_dcn_lab_prereqs_installs_the_machines_packages_and_builds_the_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dcn.deploy.prepared
    from dcn.cli import lab as cli_lab
    from dcn.lab import fullhost

    installed: list[tuple[str, ...]] = []
    built: list[bool] = []
    monkeypatch.delenv(fullhost.NODES_ENV, raising=False)
    monkeypatch.setattr(
        cli_lab, "install_packages", lambda say, packages: installed.append(packages) or False
    )
    monkeypatch.setattr(
        dcn.deploy.prepared, "node_image", lambda say: built.append(True) or tmp_path / "image"
    )
    ws = SimpleNamespace(state_dir=tmp_path, deployment=SimpleNamespace(name="lab"))
    cli_lab.prereqs(SimpleNamespace(obj=ws))
    assert installed == [prereqs.FULLHOST_PACKAGES]
    assert built == [True]


def test_inotify_limits_are_raised_for_the_nodes_never_lowered(tmp_path) -> None:
    """Each node's systemd takes inotify instances from the machine's per-user pool:
    Debian's 128 boots 19 nodes, not 20."""
    from dcn.lab import prereqs

    (tmp_path / "max_user_instances").write_text("128\n")
    (tmp_path / "max_user_watches").write_text("1000000\n")
    said: list[str] = []
    prereqs.inotify_headroom(21, said.append, tmp_path)
    wanted = 128 + prereqs.INOTIFY_PER_NODE * 21
    assert int((tmp_path / "max_user_instances").read_text()) == wanted
    assert int((tmp_path / "max_user_watches").read_text()) == 1000000  # not lowered
    assert said == [f"fs.inotify.max_user_instances: 128 -> {wanted} (for 21 nodes)"]
    said.clear()
    prereqs.inotify_headroom(3, said.append, tmp_path)
    assert said == []
