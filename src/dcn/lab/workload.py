"""Lab workloads: a guest for a server of nova's fake driver, which boots none.

A workload is a network namespace inside the compute node the server runs on, with a
veth whose outer end is a port of the node's ``br-int`` carrying the server's port
(``external_ids:iface-id`` = the neutron port, the port's MAC inside): ovn-controller
binds the port to it exactly as it would a VM's tap. A DHCP client (busybox udhcpc,
with dcn's own script: Debian's busybox has none and would not touch the node's own
files anyway) then asks OVN's native DHCP for the port's address, routes included
(the metadata route where the site has one), so whatever runs in the namespace sees
what a guest sees.

Workloads live inside their node (the namespace is the node's); the lab's manifest
keeps the list, and 'dcn lab down' removes them with the nodes.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from dcn.errors import DcnError

#: where, inside the node, the DHCP script and the leases live
RUN_DIR = "/run/dcn/workloads"
DHCP_TRIES = 10
EXEC_TIMEOUT = 120.0

#: udhcpc's script: $1 is the event; the lease in environment variables (busybox)
DHCP_SCRIPT = r"""#!/bin/sh
# dcn lab workload: apply a DHCP lease inside the workload's namespace only
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-$subnet}" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    if [ -n "$staticroutes" ]; then
      # RFC 3442: with classless routes the router option is ignored
      set -- $staticroutes
      while [ $# -ge 2 ]; do
        if [ "$1" = 0.0.0.0/0 ]; then
          ip route replace default via "$2" dev "$interface"
        else
          ip route replace "$1" via "$2" dev "$interface"
        fi
        shift 2
      done
    else
      for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    fi
    printf 'ip=%s\nrouter=%s\nroutes=%s\n' "$ip" "${router%% *}" "$staticroutes" > "$LEASE"
    ;;
esac
exit 0
"""

#: attach: $1 namespace, $2 outer veth, $3 MAC, $4 port id, $5 server id, $6 script
ATTACH = rf"""set -e
ns="$1"; veth="$2"; mac="$3"; port="$4"; server="$5"
mkdir -p {RUN_DIR}
printf '%s' "$6" > {RUN_DIR}/udhcpc.sh
chmod 0755 {RUN_DIR}/udhcpc.sh
ovs-vsctl --if-exists del-port br-int "$veth"
ip netns del "$ns" 2>/dev/null || true
ip netns add "$ns"
ip link add name "$veth" type veth peer name eth0 netns "$ns"
ip -n "$ns" link set dev eth0 address "$mac"
ip -n "$ns" link set dev lo up
ip -n "$ns" link set dev eth0 up
ip link set dev "$veth" up
# a veth feeding a userspace switch (AF_PACKET) passes TCP only with TX offload off
ethtool -K "$veth" tx off >/dev/null
ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null
ovs-vsctl add-port br-int "$veth" -- set Interface "$veth" \
  external_ids:iface-id="$port" external_ids:attached-mac="$mac" \
  external_ids:iface-status=active external_ids:vm-uuid="$server"
rm -f {RUN_DIR}/"$ns".lease
start=$(date +%s.%N)
LEASE={RUN_DIR}/"$ns".lease ip netns exec "$ns" busybox udhcpc -i eth0 -s {RUN_DIR}/udhcpc.sh \
  -O staticroutes -n -q -t {DHCP_TRIES} -T 1 -A 1 >/dev/null 2>&1 || true
end=$(date +%s.%N)
echo "seconds=$(echo "$end - $start" | awk '{{print $1 - $3}}')"
cat {RUN_DIR}/"$ns".lease 2>/dev/null || echo "ip="
"""

DETACH = rf"""ovs-vsctl --if-exists del-port br-int "$2"
ip netns del "$1" 2>/dev/null || true
rm -f {RUN_DIR}/"$1".lease
"""


@dataclass(frozen=True, slots=True)
class Workload:
    """A server's guest in the lab: where it lives and what the cloud gave its port."""

    server: str
    name: str
    node: str
    port: str
    mac: str
    #: the port's fixed IP (what DHCP must hand out)
    fixed_ip: str
    #: the namespace inside the node, and the veth's end on br-int
    netns: str
    veth: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Lease:
    """What DHCP gave the workload, and how long it took."""

    address: str | None
    router: str | None
    routes: str
    seconds: float


def names(port_id: str) -> tuple[str, str]:
    """The workload's namespace and outer veth, from its port (15-character limit)."""
    compact = port_id.replace("-", "")
    return f"wl-{compact[:8]}", f"wl{compact[:11]}"


def parse_lease(text: str) -> Lease:
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    seconds = float(values.get("seconds") or 0.0)
    return Lease(
        values.get("ip") or None, values.get("router") or None, values.get("routes", ""), seconds
    )


def run_in_node(
    argv: Sequence[str], timeout: float = EXEC_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise DcnError(
            f"lab workload: '{argv[-1] if argv else ''}' did not finish in {timeout:.0f} s",
            hint="'dcn lab status' shows whether the node runs",
        ) from None


def attach_argv(workload: Workload) -> list[str]:
    """The command (inside the node) that plugs the workload in and asks for a lease."""
    return [
        "/bin/sh",
        "-c",
        ATTACH,
        "dcn-workload",
        workload.netns,
        workload.veth,
        workload.mac,
        workload.port,
        workload.server,
        DHCP_SCRIPT,
    ]


def detach_argv(workload: Workload) -> list[str]:
    return ["/bin/sh", "-c", DETACH, "dcn-workload", workload.netns, workload.veth]


def exec_argv(workload: Workload, command: Sequence[str]) -> list[str]:
    """A command inside the workload's namespace (run inside its node)."""
    return ["ip", "netns", "exec", workload.netns, *command]


def ping_command(target: str, count: int, interval: float = 0.2) -> list[str]:
    """A bounded ping series (busybox: the node needs no iputils)."""
    return ["busybox", "ping", "-c", str(count), "-W", "1", "-i", str(interval), target]


def replied(ping_output: str) -> set[int]:
    """The sequence numbers that got a reply (busybox counts from 0: ``seq=0``)."""
    return {int(n) for n in re.findall(r"\bseq=(\d+)\b", ping_output)}


def received(ping_output: str) -> tuple[int, int]:
    """(transmitted, received) from a ping summary line."""
    for line in ping_output.splitlines():
        if "packets transmitted" in line:
            words = line.replace(",", " ").split()
            return int(words[0]), int(words[words.index("transmitted") + 1])
    return 0, 0
