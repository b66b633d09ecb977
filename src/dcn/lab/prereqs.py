"""Host prerequisites, installed idempotently: Debian packages and the OpenStack venv.

Both are checked first and installed only when missing or out of date, so a second
run costs a dpkg query and a stamp comparison. Package installs run with a
``policy-rc.d`` that forbids starting services: the lab runs its own daemons, per node.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from dcn.errors import DcnError

PACKAGES = (
    "iproute2",
    "mariadb-server",
    "mariadb-client",
    "rabbitmq-server",
    "openssh-server",
    "openssh-client",
    "util-linux",
)
#: what the OpenStack virtualenv holds; versions come from the constraints file only
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
DEFAULT_VENV = Path("/opt/dcn/venv")
POLICY_RC = Path("/usr/sbin/policy-rc.d")

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
FULLHOST_PACKAGES = ("iproute2", "openssh-client", "mmdebstrap", "systemd-container")


def missing_packages(packages: tuple[str, ...] = PACKAGES) -> list[str]:
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


def install_packages(say: Say, packages: tuple[str, ...] = PACKAGES) -> bool:
    missing = missing_packages(packages)
    if not missing:
        return False
    say(f"installing Debian packages: {' '.join(missing)}")
    created_policy = not POLICY_RC.exists()
    if created_policy:
        POLICY_RC.write_text("#!/bin/sh\n# dcn: no service starts during install\nexit 101\n")
        POLICY_RC.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update", "-qq"], "apt-get update", env)
        _run(["apt-get", "install", "-y", "-qq", *missing], "apt-get install", env)
    finally:
        if created_policy:
            POLICY_RC.unlink(missing_ok=True)
    return True


def venv_stamp() -> str:
    text = constraints_file().read_text() + "\n".join(OPENSTACK_REQUIREMENTS)
    return hashlib.sha256(text.encode()).hexdigest()


def stamp_path(venv: Path) -> Path:
    """Present once the venv holds this constraints file's set (deploys check it too)."""
    return venv / f".dcn-stamp-{venv_stamp()[:16]}"


def ensure_venv(venv: Path, say: Say) -> bool:
    stamp = stamp_path(venv)
    if stamp.exists():
        return False
    say(f"installing the OpenStack virtualenv in {venv} (pinned by constraints/openstack.txt)")
    if not (venv / "bin" / "python").exists():
        _run([sys.executable, "-m", "venv", str(venv)], "creating the virtualenv")
    _run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
            "-c",
            str(constraints_file()),
            *OPENSTACK_REQUIREMENTS,
        ],
        "pip install of the OpenStack services",
    )
    stamp.write_text(venv_stamp() + "\n")
    return True


def ensure(venv: Path, say: Say) -> list[str]:
    """Install what is missing; return what was done (empty: nothing to do)."""
    done = []
    if install_packages(say):
        done.append("packages")
    if ensure_venv(venv, say):
        done.append("virtualenv")
    return done
