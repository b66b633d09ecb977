"""What the lab needs on this machine, and the OpenStack set every node gets.

The machine only runs full-host lab nodes: it needs the few packages that build and boot
them (`FULLHOST_PACKAGES`, checked first and installed only when missing). OpenStack,
MariaDB and RabbitMQ go to the nodes (the node image, or a deploy's prerequisites), never
to the machine; the pin set they are installed from is defined here once.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from dcn.errors import DcnError

#: what a node's OpenStack virtualenv holds; versions come from the constraints file only
OPENSTACK_REQUIREMENTS = (
    "nova",
    "keystone",
    "glance",
    "openstack-placement",
    "neutron",
    "gunicorn",
    "PyMySQL",
    "openstacksdk",
    "python-openstackclient",
    "osc-placement",
)
#: where a node's OpenStack virtualenv lives
DEFAULT_VENV = Path("/opt/dcn/venv")

Say = Callable[[str], None]


def constraints_file() -> Path:
    """The project's single pin file (shipped in the package, or the source tree's)."""
    here = Path(__file__).resolve()
    for candidate in (
        here.parent.parent / "constraints" / "openstack.txt",
        here.parents[3] / "constraints" / "openstack.txt",
    ):
        if candidate.exists():
            return candidate
    raise DcnError("constraints/openstack.txt not found", hint="reinstall dcn from its source")


#: what the machine needs to run full-host lab nodes (they bring everything else)
FULLHOST_PACKAGES = ("iproute2", "ethtool", "openssh-client", "mmdebstrap", "systemd-container")


def missing_packages(packages: tuple[str, ...] = FULLHOST_PACKAGES) -> list[str]:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", *packages],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    installed = {line.split()[0] for line in out.splitlines() if line.endswith(" installed")}
    return [p for p in packages if p not in installed]


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise DcnError(f"{what} failed:\n{tail}", hint="fix the cause above and run it again")


def install_packages(say: Say, packages: tuple[str, ...] = FULLHOST_PACKAGES) -> bool:
    """Install the packages that are missing; True if any was."""
    missing = missing_packages(packages)
    if not missing:
        return False
    say(f"installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update", "-qq"], "apt-get update", env)
    _run(["apt-get", "install", "-y", "-qq", *missing], "apt-get install", env)
    return True


#: inotify instances one node's systemd, journald and services take (measured: 19 nodes
#: booted within Debian's default of 128, the 20th's systemd failed "Too many open files")
INOTIFY_PER_NODE = 16
INOTIFY_LIMITS = Path("/proc/sys/fs/inotify")


def inotify_headroom(nodes: int, say: Say, limits: Path = INOTIFY_LIMITS) -> None:
    """Raise the machine's inotify limits to what `nodes` lab nodes need (never lower
    them): every node's systemd takes instances from the same per-user pool."""
    wanted = {
        "max_user_instances": 128 + INOTIFY_PER_NODE * nodes,
        "max_user_watches": 524288,
    }
    for name, value in wanted.items():
        path = limits / name
        try:
            current = int(path.read_text())
        except (OSError, ValueError):
            continue
        if current < value:
            try:
                path.write_text(f"{value}\n")
            except OSError as exc:
                raise DcnError(
                    f"lab: fs.inotify.{name} is {current}; {nodes} nodes need {value} "
                    f"({exc.strerror or exc})",
                    hint=f"as root: sysctl -w fs.inotify.{name}={value}",
                ) from None
            say(f"fs.inotify.{name}: {current} -> {value} (for {nodes} nodes)")


def venv_stamp() -> str:
    """The digest of the pin set: a node's venv, and the node image, are of this set."""
    text = constraints_file().read_text() + "\n".join(OPENSTACK_REQUIREMENTS)
    return hashlib.sha256(text.encode()).hexdigest()


def stamp_path(venv: Path) -> Path:
    """Present once the venv holds this constraints file's set (deploys check it)."""
    return venv / f".dcn-stamp-{venv_stamp()[:16]}"
