"""Lab nodes as full hosts: each a systemd-nspawn container (`dcn.lab.machine`) booting
the node image, in the node's network namespace of the fabric.

A full-host node has its own root (an overlay on the shared image), systemd as PID 1,
journald and sshd, so the deploy treats it exactly as a real host: prerequisites,
packages and the supervisor's systemd unit included. The lab's proxy, on the machine's
end of the fabric, is the nodes' way to the Debian mirror and PyPI (the machine does
not forward their packets).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from dcn.errors import DcnError
from dcn.lab import proxy
from dcn.lab.machine import NODE_ENV, Machine
from dcn.lab.topology import LabNode

#: lab nodes: "fullhost" (nspawn containers, the default) or "netns" (sshd in a
#: namespace of the machine's own root)
NODES_ENV = "DCN_LAB_NODES"
FULLHOST, NETNS = "fullhost", "netns"

Say = Callable[[str], None]


def kind_from_env() -> str:
    value = os.environ.get(NODES_ENV, FULLHOST) or FULLHOST
    if value not in (FULLHOST, NETNS):
        raise DcnError(
            f"{NODES_ENV}={value!r} is not a kind of lab node",
            hint=f"use {FULLHOST} (full Debian hosts with systemd) or {NETNS}",
        )
    return value


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
