"""ovnmeta_offload: TX checksum offload off on the veths of the OVN metadata namespaces,
on a chassis whose integration bridge uses Open vSwitch's userspace datapath. Runs on a
compute as a process of the ``ovn_metadata_agent`` service.

Why: on the userspace datapath (br-int ``datapath_type=netdev``: lab nodes, which have
no openvswitch kernel module) ovs-vswitchd reads a veth whose peer is an OVS port
through an AF_PACKET socket. A veth offloads TX checksums by default, so the kernel
hands it TCP segments with a partial checksum for "the NIC" to finish, and nothing
finishes it: the receiver drops them. Ping works (ICMP checksums are computed in full),
TCP does not (measured in the lab). neutron-ovn-metadata-agent plugs each network's
metadata namespace, ``ovnmeta-<network>``, into br-int with such a pair (``tap<id>0`` on
br-int, ``tap<id>1`` inside, where haproxy answers 169.254.169.254), so an instance's
TCP connection to the metadata service would never get a valid answer. With TX offload
off on the namespace's end the kernel computes every checksum itself. (Neutron adds an
iptables CHECKSUM rule there on netdev bridges, LP#1904871; this does not depend on it.)

Every 2 s: the namespaces (``/run/netns``, what ``ip netns list`` lists); when some are
``ovnmeta-*`` and br-int's datapath is netdev (asked again every 30 s, or when the
namespaces change), the veths of new namespaces (at most 8 a round) and of one known
namespace (round robin: the agent may have made its veth again) get ``ethtool -K IF tx
off`` once each, remembered by name and index. A round with nothing new runs one
command (two every 30 s); with no metadata namespace, none. On the kernel datapath it
turns nothing off.

Usage: ovnmeta_offload.py [--once]. Standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

PREFIX = "ovnmeta-"
NETNS_DIR = os.environ.get("DCN_NETNS_DIR", "/run/netns")
BRIDGE = "br-int"
NETDEV = "netdev"
POLL = 2.0
#: new namespaces inspected per round (the rest wait for the next rounds)
MAX_NEW = 8
#: rounds a known datapath type is trusted before it is asked again
DATAPATH_ROUNDS = 15
#: a command that does not answer in this long counts as failed
COMMAND_TIMEOUT = 10

#: a command's exit status and standard output
Run = Callable[[list[str]], tuple[int, str]]


def run(argv: list[str]) -> tuple[int, str]:
    """Run a command, bounded; a missing program or a timeout is a failure."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    if done.returncode != 0:
        print(f"{' '.join(argv)}: {done.stderr.strip()}", file=sys.stderr, flush=True)
    return done.returncode, done.stdout


def metadata_namespaces(names: Iterable[str]) -> list[str]:
    """The OVN metadata agent's namespaces among `names`, sorted."""
    return sorted(n for n in names if n.startswith(PREFIX) and len(n) > len(PREFIX))


def datapath_type(output: str) -> str:
    """``ovs-vsctl get bridge br-int datapath_type``'s answer (quoted or not; empty
    means the default, the kernel's)."""
    return output.strip().strip('"')


def veths(output: str) -> dict[str, int]:
    """Veth name -> ifindex, from ``ip -j link show type veth``."""
    text = output.strip()
    if not text:
        return {}
    return {
        link["ifname"]: int(link["ifindex"])
        for link in json.loads(text)
        if isinstance(link, dict) and "ifname" in link and "ifindex" in link
    }


def list_namespaces() -> list[str]:
    try:
        return os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []


@dataclass
class Offloader:
    """What was done so far, and one round of work."""

    run: Run = run
    list_names: Callable[[], list[str]] = list_namespaces
    #: namespace -> (veth, ifindex) pairs whose TX offload is off; a namespace is
    #: here once a veth was seen in it
    done: dict[str, set[tuple[str, int]]] = field(default_factory=dict)
    #: the metadata namespaces of the last round
    present: list[str] = field(default_factory=list)
    datapath: str | None = None
    datapath_age: int = 0
    #: the next known namespace to look at again
    turn: int = 0

    def _datapath(self, changed: bool) -> str | None:
        """br-int's datapath type, asked again when the namespaces changed, after
        `DATAPATH_ROUNDS` rounds, or when it could not be read (no br-int yet)."""
        if self.datapath is None or changed or self.datapath_age >= DATAPATH_ROUNDS:
            argv = ["ovs-vsctl", "--timeout=5", "get", "bridge", BRIDGE, "datapath_type"]
            status, out = self.run(argv)
            self.datapath = datapath_type(out) if status == 0 else None
            self.datapath_age = 0
        self.datapath_age += 1
        return self.datapath

    def _offload_off(self, namespace: str) -> list[str]:
        """``tx off`` on each veth of `namespace` not yet done; what it turned off."""
        status, out = self.run(["ip", "-j", "-n", namespace, "link", "show", "type", "veth"])
        try:
            found = set(veths(out).items()) if status == 0 else set()
        except (ValueError, TypeError, KeyError):
            found = set()
        if not found:
            return []  # not plugged yet (or gone): still new, looked at next round
        done = self.done.setdefault(namespace, set())
        done &= found  # forget veths that are gone (a new one may take the name)
        changed = []
        for name, index in sorted(found - done):
            cmd = ["ip", "netns", "exec", namespace, "ethtool", "-K", name, "tx", "off"]
            if self.run(cmd)[0] == 0:
                done.add((name, index))
                changed.append(f"{namespace} {name}")
        return changed

    def round(self) -> list[str]:
        """One round: the veths whose TX offload it turned off (``namespace veth``)."""
        present = metadata_namespaces(self.list_names())
        changed, self.present = present != self.present, present
        for gone in set(self.done) - set(present):
            del self.done[gone]
        if not present or self._datapath(changed) != NETDEV:
            return []
        todo = [n for n in present if n not in self.done][:MAX_NEW]
        known = sorted(self.done)
        if known:
            self.turn %= len(known)
            todo.append(known[self.turn])
            self.turn += 1
        return [change for namespace in todo for change in self._offload_off(namespace)]


def main(argv: list[str]) -> None:
    offloader = Offloader()
    while True:
        for change in offloader.round():
            print(f"tx off: {change}", flush=True)
        if "--once" in argv:
            return
        time.sleep(POLL)


if __name__ == "__main__":
    main(sys.argv[1:])
