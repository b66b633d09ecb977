"""Before any service starts: every node holds the addresses its plan gives it.

A planned address a node does not hold would have services bind to nothing, other
nodes reach nothing, and the deploy report success. So each node is asked, in one SSH
call (``ip -j addr``, in parallel), which addresses it holds, and a deploy is refused
while one is missing, naming the node, network and address. The lab moves its nodes'
addresses itself (``dcn lab up``); a real host's are the operator's to configure.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from dcn import remote
from dcn.lab import Connection
from dcn.plan.types import NodePlan, StackPlan

#: at most this many nodes asked at once
PARALLEL = 16


def held(ip_json: str) -> set[str]:
    """The addresses in ``ip -j addr`` output (normalised, without prefix length)."""
    found = set()
    for link in json.loads(ip_json or "[]"):
        for info in link.get("addr_info", []):
            local = info.get("local")
            if local:
                found.add(str(ipaddress.ip_address(local)))
    return found


def missing(plan: StackPlan, node: NodePlan, holds: set[str]) -> list[str]:
    """What the node lacks: ``network address`` for each planned address it does not hold."""
    return [
        f"{net} {address}"
        for net, addresses in sorted(plan.held_addresses(node).items())
        for address in addresses
        if str(ipaddress.ip_address(address)) not in holds
    ]


def problems(conn: Connection, plan: StackPlan, lab: bool, skip: Iterable[str] = ()) -> list[str]:
    """One line per node that does not hold its planned addresses (nodes in `skip`, and
    nodes that cannot be asked, are left to the reachability check)."""
    from dcn.deploy import ssh_address

    skipped = set(skip)
    nodes = [n for n in plan.nodes if n.hostname not in skipped]

    def ask(node: NodePlan) -> str | None:
        out = remote.run(conn, ssh_address(node), ["ip", "-j", "addr", "show"])
        if out is None:
            return None
        lacking = missing(plan, node, held(out))
        if not lacking:
            return None
        fix = (
            "'dcn lab up' moves lab nodes to their planned addresses"
            if lab
            else "configure them on the host (or change the description back)"
        )
        return f"{node.hostname} does not hold its planned {', '.join(lacking)}; {fix}"

    if not nodes:
        return []
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(nodes))) as pool:
        return [p for p in pool.map(ask, nodes) if p]
