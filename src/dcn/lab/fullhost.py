"""Lab nodes as full hosts: each a systemd-nspawn container (`dcn.lab.machine`) booting
the node image, in the node's network namespace of the fabric.

A full-host node has its own root (an overlay on the shared image), systemd as PID 1,
journald and sshd, so the deploy treats it exactly as a real host: prerequisites,
packages and every process's systemd unit included. The lab's proxy, on the machine's
end of the fabric, is the nodes' way to the Debian mirror and PyPI (the machine does
not forward their packets).

Full hosts are the only kind of lab node: the namespace nodes of older versions (sshd in
a network namespace sharing the machine's root) had no systemd to run a node's units.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from dcn.errors import DcnError
from dcn.lab import proxy
from dcn.lab.machine import NODE_ENV, Machine
from dcn.lab.topology import LabNode

#: once chose the kind of lab node; now only "fullhost" (or unset) is accepted
NODES_ENV = "DCN_LAB_NODES"
#: the kind a lab's manifest records; any other is a lab of retired namespace nodes
FULLHOST = "fullhost"
SSH_WAIT = 15.0
#: what 'dcn lab down' then 'dcn lab up' fixes: a lab an older dcn built
OLD_LAB = "this lab was built with namespace nodes, which dcn no longer runs"
OLD_LAB_HINT = "'dcn lab down' then 'dcn lab up' rebuilds it with full-host nodes"

Say = Callable[[str], None]


def kind_from_env() -> str:
    """The kind of node a new lab gets: full hosts; DCN_LAB_NODES may only confirm it."""
    value = os.environ.get(NODES_ENV, FULLHOST) or FULLHOST
    if value != FULLHOST:
        what = (
            "namespace lab nodes were retired"
            if value == "netns"
            else "is not a kind of lab node (namespace nodes were retired)"
        )
        raise DcnError(
            f"{NODES_ENV}={value!r}: {what}; every lab node is a full host",
            hint=f"unset {NODES_ENV} (or set it to {FULLHOST})",
        )
    return value


def require_fullhost(manifest: dict) -> None:
    """Refuse a lab an older dcn built with namespace nodes (no "kind", or another)."""
    if manifest.get("kind") != FULLHOST:
        raise DcnError(OLD_LAB, hint=OLD_LAB_HINT)


def machine(entry: dict) -> Machine:
    """The machine of a node from its manifest entry."""
    return Machine(
        entry["hostname"],
        Path(entry["dir"]),
        Path(entry["image"]),
        entry["netns"],
        entry["hostname"],
    )


def start(
    node: LabNode, node_dir: Path, image: Path, public_key: str, proxy_url: str
) -> tuple[dict, str]:
    """Boot one node; its manifest entry and its ssh host key (for known_hosts)."""
    m = Machine(node.hostname, node_dir, image, node.netns, node.hostname, public_key)
    m.mount()
    for path, content in proxy.node_files(proxy_url).items():
        target = m.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    m.start()
    key = (m.root / "etc" / "ssh" / "ssh_host_ed25519_key.pub").read_text().split()[1]
    entry = {
        "site": node.site,
        "hostname": node.hostname,
        "netns": node.netns,
        "ssh_address": node.ssh_address,
        "dir": str(node_dir),
        "image": str(image),
        "kind": FULLHOST,
    }
    return entry, key


def running(entry: dict) -> bool:
    return machine(entry).is_running()


def stop(entry: dict) -> None:
    """Power the node off (no clean shutdown) and remove its root and directory."""
    m = machine(entry)
    m.stop()
    m.remove()


def exec_argv(entry: dict, command: list[str]) -> list[str]:
    """argv running `command` inside the node (all its namespaces, its environment)."""
    pid = machine(entry).leader_pid()
    if pid is None:
        raise DcnError(
            f"lab node {entry['hostname']} is not running",
            hint=f"start it: dcn lab node start {entry['hostname']}",
        )
    env = [f"{k}={v}" for k, v in NODE_ENV.items()]  # the node's own, as Machine.exec
    return ["nsenter", "-t", str(pid), "-a", "--", "/usr/bin/env", "-i", *env, *command]


def action(entry: dict, what: str) -> str:
    """stop (like a power loss), start, or reboot a node; what it is now."""
    m = machine(entry)
    if what == "stop":
        m.stop()
        return "stopped"
    if what == "start":
        return m.start()
    if what == "reboot":
        return m.reboot()
    raise DcnError(f"unknown node action {what!r}", hint="use stop, start or reboot")


def wait_ssh(node: LabNode) -> None:
    """Wait until the node's sshd accepts connections on its ctlplane address."""
    deadline = time.monotonic() + SSH_WAIT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((node.ssh_address, 22), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise DcnError(
        f"lab node {node.hostname}: sshd does not answer on {node.ssh_address}:22",
        hint=f"'dcn lab exec {node.hostname} journalctl -u ssh -n 50' shows why",
    )
