"""A lab node's own directories, hostname and sshd, inside its network namespace.

Each node runs ``sshd`` in its network namespace and in a mount and UTS namespace of
its own, where the directories a node keeps to itself (its services' configuration,
data, logs and runtime files, and /etc/hosts) are bind mounts of the node's directory
in the lab. Everything Ansible starts over SSH inherits that view, so a node looks to
the playbooks like a host of its own, and two nodes never share a file they write.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from dcn.errors import DcnError
from dcn.lab.topology import LabNode
from dcn.plan.types import NodePlan

#: directory prefixes whose first level below is private to a node
PRIVATE_ROOTS = ("/etc", "/var/lib", "/run")
#: always private: node programs, their state, logs of every service
ALWAYS_PRIVATE = ("/etc/dcn", "/var/lib/dcn", "/run/dcn", "/var/log")
SSHD = "/usr/sbin/sshd"
SSH_WAIT = 15.0


def private_dirs(plan: NodePlan) -> list[str]:
    """Directories the node keeps to itself: the first level below /etc, /var/lib and
    /run of every file and directory its plan names, and the always-private ones."""
    paths: set[str] = set(ALWAYS_PRIVATE)
    # a file counts by its directory, a directory by itself
    named = [
        *(PurePosixPath(f).parent for f in plan.files),
        *(PurePosixPath(d.path) for u in plan.units for d in u.dirs),
    ]
    for p in named:
        for root in PRIVATE_ROOTS:
            rp = PurePosixPath(root)
            if p.is_relative_to(rp) and p != rp:
                paths.add(str(PurePosixPath(*p.parts[: len(rp.parts) + 1])))
    # /etc/hosts is a file: bind-mounted on its own
    return sorted(d for d in paths if d != "/etc/hosts")


def sshd_config(node: LabNode, node_dir: Path, authorized_keys: Path) -> str:
    return "\n".join(
        [
            "# dcn lab node: sshd inside the node's namespaces",
            f"ListenAddress {node.ssh_address}",
            "Port 22",
            f"HostKey {node_dir}/ssh_host_ed25519_key",
            f"PidFile {node_dir}/sshd.pid",
            f"AuthorizedKeysFile {authorized_keys}",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "UseDNS no",
            "MaxSessions 50",
            "MaxStartups 50:30:100",
            "Subsystem sftp /usr/lib/openssh/sftp-server",
            "",
        ]
    )


def boot_script(node: LabNode, node_dir: Path, dirs: Iterable[str]) -> str:
    """Run by ``unshare --mount --uts``: private mounts, hostname, then exec sshd."""
    lines = ["set -e", f"hostname {shlex.quote(node.hostname)}"]
    root = node_dir / "root"
    for d in dirs:
        src = root / d.lstrip("/")
        lines.append(f"mkdir -p {shlex.quote(str(src))} {shlex.quote(d)}")
        lines.append(f"mount --bind {shlex.quote(str(src))} {shlex.quote(d)}")
    hosts = node_dir / "hosts"
    lines.append(f"mount --bind {shlex.quote(str(hosts))} /etc/hosts")
    lines.append("mkdir -p /run/sshd")
    lines.append(
        f"exec {SSHD} -D -f {shlex.quote(str(node_dir / 'sshd_config'))} "
        f"-E {shlex.quote(str(node_dir / 'sshd.log'))}"
    )
    return "\n".join(lines) + "\n"


def host_key(node_dir: Path) -> str:
    key = node_dir / "ssh_host_ed25519_key"
    if not key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(key)],
            check=True,
            capture_output=True,
        )
    return (node_dir / "ssh_host_ed25519_key.pub").read_text().split()[1]


def start(node: LabNode, node_dir: Path, dirs: list[str], authorized_keys: Path) -> int:
    """Start the node's sshd in its namespaces; return its pid once it accepts."""
    node_dir.mkdir(parents=True, exist_ok=True)
    hosts = node_dir / "hosts"
    if not hosts.exists():
        hosts.write_text(f"127.0.0.1 localhost\n{node.ssh_address} {node.hostname}\n")
    (node_dir / "sshd_config").write_text(sshd_config(node, node_dir, authorized_keys))
    script = node_dir / "boot.sh"
    script.write_text(boot_script(node, node_dir, dirs))
    with open(node_dir / "boot.log", "ab") as log:
        proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                node.netns,
                "unshare",
                "--mount",
                "--uts",
                "--propagation",
                "private",
                "/bin/sh",
                str(script),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_ssh(node, proc)
    return proc.pid


def wait_ssh(node: LabNode, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + SSH_WAIT
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise DcnError(
                f"lab node {node.hostname}: sshd exited ({proc.returncode})",
                hint="see boot.log and sshd.log in the node's lab directory",
            )
        try:
            with socket.create_connection((node.ssh_address, 22), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise DcnError(
        f"lab node {node.hostname}: sshd does not answer on {node.ssh_address}:22",
        hint="see sshd.log in the node's lab directory",
    )
