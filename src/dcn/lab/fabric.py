"""Create and remove the lab's namespaces and links with iproute2 (one batch per namespace)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable

import netaddr

from dcn.errors import DcnError
from dcn.lab.topology import LabTopology

ROUTER_SYSCTLS = (
    "net.ipv4.ip_forward=1",
    "net.ipv6.conf.all.forwarding=1",
    # a cut link (set down) keeps its IPv6 addresses, so healing only restores routes
    "net.ipv6.conf.all.keep_addr_on_down=1",
    "net.ipv6.conf.default.keep_addr_on_down=1",
)


def _ip(args: list[str], stdin: str | None = None) -> None:
    result = subprocess.run(["ip", *args], input=stdin, text=True, capture_output=True, check=False)
    if result.returncode != 0:
        raise DcnError(
            f"lab: 'ip {' '.join(args)}' failed: {result.stderr.strip()}",
            hint="run 'dcn lab down' to remove a half-built lab, then 'dcn lab up' again",
        )


def _batch(netns: str | None, commands: Iterable[str]) -> None:
    lines = "\n".join(commands)
    if not lines:
        return
    _ip([*(["-n", netns] if netns else []), "-batch", "-"], stdin=lines + "\n")


def host_commands(commands: Iterable[str]) -> None:
    """``ip`` commands in the machine's own namespace (its routes into the lab); one
    that fails (a route already gone) does not stop the others."""
    for command in commands:
        subprocess.run(["ip", *command.split()], capture_output=True, check=False)


def readdress(netns: str, planned: dict[str, list[str]]) -> list[str]:
    """Give the interfaces of a node's namespace exactly their planned global addresses
    (``addr/prefix``); return what changed ("+addr on if", "-addr on if")."""
    out = subprocess.run(
        ["ip", "-n", netns, "-j", "addr", "show"], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        return []
    live = {
        link["ifname"]: {
            f"{a['local']}/{a['prefixlen']}"
            for a in link.get("addr_info", [])
            if a.get("scope") == "global"
        }
        for link in json.loads(out.stdout or "[]")
    }
    adds, dels, changes = [], [], []
    for ifname, addresses in sorted(planned.items()):
        want = {str(netaddr.IPNetwork(a)) for a in addresses}
        have = {str(netaddr.IPNetwork(a)): a for a in live.get(ifname, set())}
        for new in sorted(want - set(have)):
            nodad = " nodad" if netaddr.IPNetwork(new).version == 6 else ""
            adds.append(f"addr add {new} dev {ifname}{nodad}")
            changes.append(f"+{new} on {ifname}")
        for gone in sorted(set(have) - want):
            dels.append(f"addr del {have[gone]} dev {ifname}")
            changes.append(f"-{gone} on {ifname}")
    if dels:
        # the new address comes first, so the subnet's routes (the default route) stay;
        # promoted, it survives its subnet's old primary address going
        subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                netns,
                "sysctl",
                "-q",
                "-w",
                "net.ipv4.conf.all.promote_secondaries=1",
            ],
            capture_output=True,
            check=False,
        )
    _batch(netns, adds + dels)
    return changes


def existing_namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def build(topo: LabTopology, parts: Iterable[str] | None = None) -> None:
    """Create the namespaces of `parts` (default: all), then links, then addresses and
    routes. Parts not named are taken to exist already (a site added to a running lab)."""
    chosen = [topo.parts[k] for k in (topo.parts if parts is None else parts)]
    names = [ns for part in chosen for ns in part.namespaces]
    present = existing_namespaces() & set(names)
    if present:
        raise DcnError(
            f"lab namespaces already exist: {', '.join(sorted(present))}",
            hint="run 'dcn lab down' first (or 'dcn lab status' to see what runs)",
        )
    for ns in names:
        _ip(["netns", "add", ns])
    for ns in (r for part in chosen for r in part.routers):
        subprocess.run(
            ["ip", "netns", "exec", ns, "sysctl", "-q", "-w", *ROUTER_SYSCTLS],
            check=True,
            capture_output=True,
        )
    for part in chosen:
        for ns, commands in part.links.items():
            _batch(ns, commands)
        _batch(None, [c for c in part.host if c.startswith("link add")])
    for part in chosen:
        for ns, commands in part.config.items():
            _batch(ns, commands)
        _batch(None, [c for c in part.host if not c.startswith("link add")])
    for part in chosen:
        for ns, interfaces in part.no_tx_offload.items():
            for ifname in interfaces:
                no_tx_offload(ns, ifname)


def no_tx_offload(netns: str, ifname: str) -> None:
    """Turn TX checksum offload off on a veth feeding a userspace Open vSwitch port:
    the switch reads its packets with AF_PACKET, where TCP's partial checksums arrive
    unfinished and the receiver drops them (ping passes, TCP does not)."""
    result = subprocess.run(
        ["ip", "netns", "exec", netns, "ethtool", "-K", ifname, "tx", "off"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DcnError(
            f"lab: 'ethtool -K {ifname} tx off' in {netns} failed: {result.stderr.strip()}",
            hint="'dcn lab prereqs' installs ethtool; then 'dcn lab down' and 'dcn lab up'",
        )


def namespace_pids(ns: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split() if p.isdigit()]


def remove(namespaces: Iterable[str], host_link: str | None) -> list[str]:
    """Delete the namespaces (their links and routes go with them); return what was removed."""
    present = existing_namespaces()
    removed = []
    for ns in namespaces:
        if ns in present:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
            removed.append(ns)
    if host_link:
        # normally gone with the spine namespace; delete it if a partial build left it
        subprocess.run(["ip", "link", "del", host_link], check=False, capture_output=True)
    return removed
