"""The control plane's clusters as their members see them, and bringing Galera back.

Each controller is asked over SSH (its node program ``cluster.py``) for its Galera
status, the VIPs it holds and, when asked, its RabbitMQ cluster view. `dcn health`
shows it, the drills measure with it, and `recover` uses it to bring a Galera cluster
back after every member stopped: from the most advanced node (the highest committed
seqno, from grastate.dat or ``--wsrep-recover``), never from an arbitrary one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from dcn import remote
from dcn.deploy import ssh_address
from dcn.deploy.bundle import NODE_HOME, NODE_PYTHON
from dcn.errors import DcnError
from dcn.lab import Connection
from dcn.plan.types import NodePlan, StackPlan

CLUSTER = f"{NODE_HOME}/cluster.py"
#: rabbitmqctl starts an Erlang VM: a few seconds on a busy controller
STATUS_TIMEOUT = 40
#: a member's mariadb joining by state transfer, or starting a new cluster
START_TIMEOUT = 300
#: members that all came back reform their primary component by themselves (Galera's
#: pc.recovery): recovery waits this long for that before it steps in
SETTLE = 60
#: a member that will not stop (mariadbd waiting for its peers ignores SIGTERM for a
#: long time) is killed after this; it is no primary, so it holds no commit of its own
STOP_WAIT = 20

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Member:
    """One controller's view of the clusters (None: not asked, or no answer)."""

    node: str
    reachable: bool
    galera: dict[str, Any] = field(default_factory=dict)
    vips: tuple[str, ...] = ()
    rabbitmq: dict[str, Any] | None = None
    #: OVN database (nb, sb) -> its RAFT role and status here
    ovn: dict[str, Any] = field(default_factory=dict)

    @property
    def ovn_ok(self) -> bool:
        """Both OVN databases count this node as a member of their cluster."""
        views = [self.ovn.get(db) or {} for db in ("nb", "sb")]
        return self.reachable and all(v.get("status") == "cluster member" for v in views)

    def ovn_text(self) -> str:
        if not self.reachable:
            return "unreachable"
        parts = []
        for db in ("nb", "sb"):
            view = self.ovn.get(db) or {"error": "no answer"}
            parts.append(
                f"{db.upper()} {view['role']}"
                if view.get("status") == "cluster member"
                else f"{db.upper()} {view.get('error') or view.get('status')}"
            )
        return ", ".join(parts)

    @property
    def galera_size(self) -> int:
        return int(self.galera.get("wsrep_cluster_size") or 0)

    @property
    def galera_primary(self) -> bool:
        return self.galera.get("wsrep_cluster_status") == "Primary"

    @property
    def galera_synced(self) -> bool:
        return self.galera_primary and self.galera.get("wsrep_local_state_comment") == "Synced"

    def galera_of(self, size: int) -> bool:
        """A synced member of a primary component of `size` members."""
        return self.reachable and self.galera_synced and self.galera_size == size

    def broker_of(self, size: int) -> bool:
        """Its broker runs with `size` nodes and no partition (False when not asked)."""
        broker = self.rabbitmq or {}
        running = broker.get("running_nodes", [])
        return self.reachable and len(running) == size and not broker.get("partitions")

    def galera_text(self) -> str:
        if not self.reachable:
            return "unreachable"
        if not self.galera.get("running"):
            return "mariadb stopped"
        if "error" in self.galera:
            return f"no answer: {self.galera['error']}"
        status = self.galera.get("wsrep_cluster_status", "?")
        state = self.galera.get("wsrep_local_state_comment", "?")
        return f"{state}, {status}, size {self.galera_size}"

    def rabbitmq_text(self) -> str:
        if not self.reachable:
            return "unreachable"
        broker = self.rabbitmq or {}
        if "error" in broker:
            return f"no answer: {broker['error']}"
        running = [n.split("@", 1)[-1] for n in broker.get("running_nodes", [])]
        partitions = broker.get("partitions") or {}
        text = f"{len(running)} running"
        return text + (f"; partitions: {partitions}" if partitions else ", no partition")


def controllers(plan: StackPlan) -> tuple[NodePlan, ...]:
    nodes = plan.controllers()
    if not nodes:
        raise DcnError(f"{plan.site} has no controllers", hint="this is for the control plane")
    return nodes


def _run(conn: Connection, node: NodePlan, argv: Sequence[str], timeout: float) -> str | None:
    """The node program's output (None: no answer, or it failed)."""
    return remote.run(conn, ssh_address(node), [NODE_PYTHON, CLUSTER, *argv], timeout=timeout)


def _ask(conn: Connection, node: NodePlan, argv: Sequence[str], timeout: float) -> Any:
    """The node program's JSON answer (None: no answer)."""
    out = _run(conn, node, argv, timeout)
    if out is None:
        return None
    try:
        return json.loads(out)
    except ValueError:
        return None


def inspect(conn: Connection, plan: StackPlan, *, broker: bool = False) -> list[Member]:
    """Every controller's view, asked side by side, in plan order."""
    vips = sorted(set(plan.network.vips.values()))
    argv = ["status", *(["--rabbitmq"] if broker else []), *vips]

    def one(node: NodePlan) -> Member:
        answer = _ask(conn, node, argv, STATUS_TIMEOUT if broker else 10)
        if not isinstance(answer, dict):
            return Member(node.hostname, reachable=False)
        return Member(
            node.hostname,
            reachable=True,
            galera=answer.get("galera") or {},
            vips=tuple(answer.get("vips") or ()),
            rabbitmq=answer.get("rabbitmq"),
            ovn=answer.get("ovn") or {},
        )

    nodes = controllers(plan)
    with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
        return list(pool.map(one, nodes))


def writes(conn: Connection, node: NodePlan, seconds: float) -> dict[str, Any]:
    """Writes through `node` for `seconds` (the node program's ``writes``): how many,
    how many failed, the longest stall; empty when it did not answer."""
    answer = _ask(conn, node, ["writes", str(seconds)], timeout=seconds + 120)
    return answer if isinstance(answer, dict) else {}


def vip_holders(plan: StackPlan, members: Sequence[Member]) -> dict[str, list[str]]:
    """VIP -> the nodes holding it (one when all is well; two is a split brain)."""
    return {
        vip: [m.node for m in members if vip in m.vips]
        for vip in sorted(set(plan.network.vips.values()))
    }


def whole(plan: StackPlan, members: Sequence[Member]) -> bool:
    """Every member answers and is a synced member of one primary Galera cluster of
    them all and of both OVN database clusters, its broker (when asked) runs with
    every node and no partition, and each VIP is held by exactly one node."""
    size = len(controllers(plan))
    galera = all(m.galera_of(size) for m in members)
    broker = all(m.rabbitmq is None or m.broker_of(size) for m in members)
    vips = all(len(nodes) == 1 for nodes in vip_holders(plan, members).values())
    ovn = all(m.ovn_ok for m in members)
    return galera and broker and vips and ovn


# -- recovery -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Position:
    """A stopped member's last committed transaction."""

    node: str
    uuid: str
    seqno: int
    how: str
    safe_to_bootstrap: bool


def most_advanced(positions: Sequence[Position]) -> Position:
    """The member to bootstrap from: the highest seqno of the cluster's history; among
    equals the one Galera marked safe to bootstrap, then the first in plan order.
    Refuses when the members' histories differ (two clusters) or a position is
    unknown: bootstrapping from the wrong node throws committed transactions away."""
    unknown = [p.node for p in positions if p.seqno < 0]
    if unknown:
        raise DcnError(
            f"the last committed position of {', '.join(unknown)} is unknown "
            "(grastate.dat says -1 and --wsrep-recover found none)",
            hint="look at /var/lib/mysql/grastate.dat and the mariadb journal on those "
            "nodes; recover by hand with 'galera_new_cluster' on the node you choose",
        )
    histories = {p.uuid for p in positions}
    if len(histories) > 1:
        raise DcnError(
            "the members hold different cluster histories: "
            + ", ".join(f"{p.node} {p.uuid}" for p in positions),
            hint="choose the history to keep by hand; dcn will not pick one",
        )
    best = max(p.seqno for p in positions)
    ties = [p for p in positions if p.seqno == best]
    return next((p for p in ties if p.safe_to_bootstrap), ties[0])


@dataclass(slots=True)
class Recovery:
    """What `recover` found and did, for the operator and the drills' report."""

    found: str = ""
    positions: list[Position] = field(default_factory=list)
    bootstrapped: str | None = None
    started: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    whole: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _systemctl(conn: Connection, node: NodePlan, *args: str, timeout: float = 120) -> bool:
    return remote.run(conn, ssh_address(node), ["systemctl", *args], timeout=timeout) is not None


def _stop(conn: Connection, node: NodePlan) -> None:
    """Stop mariadb; kill it when it does not stop in `STOP_WAIT` seconds."""
    if not _systemctl(conn, node, "stop", "mariadb.service", timeout=STOP_WAIT):
        _systemctl(conn, node, "kill", "--signal=SIGKILL", "mariadb.service")
        _systemctl(conn, node, "stop", "mariadb.service", timeout=STOP_WAIT)


def _settled(conn: Connection, plan: StackPlan, say: Say) -> list[Member]:
    """The members' views, once no member is on its way to a primary component by
    itself: while some run mariadb and none is primary yet, wait (bounded)."""
    deadline = time.monotonic() + SETTLE
    members = inspect(conn, plan)
    said = False
    while time.monotonic() < deadline:
        forming = any(m.reachable and m.galera.get("running") for m in members)
        if any(m.galera_primary for m in members) or not forming:
            break
        if not said:
            say(
                f"Galera: members are running without a primary component; waiting up to "
                f"{SETTLE} s for them to form one by themselves"
            )
            said = True
        time.sleep(2)
        members = inspect(conn, plan)
    return members


def _start(conn: Connection, node: NodePlan, unit: str) -> bool:
    return _systemctl(conn, node, "start", unit, timeout=START_TIMEOUT)


def _join(conn: Connection, node: NodePlan, result: Recovery) -> None:
    """Start a member's mariadb (it joins the primary component); recorded either way."""
    if _start(conn, node, "mariadb.service"):
        result.started.append(node.hostname)
        result.actions.append(f"started mariadb on {node.hostname}")
    else:
        result.actions.append(f"mariadb on {node.hostname} did not start")


def recover(conn: Connection, plan: StackPlan, say: Say) -> Recovery:
    """Bring the control plane's Galera cluster (and stopped brokers) back.

    - a primary component exists: start the members that are stopped (they join it);
    - none: every member must answer; stop them, read each one's position, start a new
      cluster from the most advanced and start the others, one at a time.
    """
    nodes = {n.hostname: n for n in controllers(plan)}
    if len(nodes) < 2:
        raise DcnError(
            f"{plan.site} has one controller: there is no cluster to recover",
            hint=f"'dcn deploy {plan.site}' starts what is stopped",
        )
    result = Recovery()
    members = _settled(conn, plan, say)
    unreachable = [m.node for m in members if not m.reachable]
    primary = [m for m in members if m.reachable and m.galera_primary]
    if primary:
        result.found = (
            f"a primary component of {primary[0].galera_size} "
            f"({', '.join(m.node for m in primary)})"
        )
        say(f"Galera: {result.found}")
        for m in members:
            if m.reachable and not m.galera.get("running"):
                say(f"{m.node}: starting mariadb (it joins by state transfer)")
                _join(conn, nodes[m.node], result)
    else:
        if unreachable:
            raise DcnError(
                f"no Galera member is primary and {', '.join(unreachable)} cannot be "
                "reached: its last committed position is unknown",
                hint="bring every controller back ('dcn lab node start NODE' in the lab), "
                "then run 'dcn recover central' again",
            )
        result.found = "no primary component: every member stopped or lost quorum"
        say(f"Galera: {result.found}")
        for node in nodes.values():
            _stop(conn, node)
        for name, node in nodes.items():
            answer = _ask(conn, node, ["position"], timeout=120) or {}
            position = Position(
                name,
                str(answer.get("uuid", "")),
                int(answer.get("seqno", -1)),
                str(answer.get("how", "no answer")),
                bool(answer.get("safe_to_bootstrap")),
            )
            result.positions.append(position)
            say(
                f"{name}: position {position.uuid}:{position.seqno} ({position.how}"
                f"{', safe to bootstrap' if position.safe_to_bootstrap else ''})"
            )
        chosen = most_advanced(result.positions)
        say(f"bootstrapping the cluster from {chosen.node} (seqno {chosen.seqno})")
        if _run(conn, nodes[chosen.node], ["bootstrap"], START_TIMEOUT) is None:
            raise DcnError(
                f"starting a new cluster on {chosen.node} failed",
                hint=f"'dcn lab exec {chosen.node} journalctl -u mariadb -n 50' shows why",
            )
        result.bootstrapped = chosen.node
        result.actions.append(f"new cluster from {chosen.node} at seqno {chosen.seqno}")
        for name, node in nodes.items():
            if name == chosen.node:
                continue
            say(f"{name}: starting mariadb (it joins {chosen.node})")
            _join(conn, node, result)
    for name, node in nodes.items():
        if name not in unreachable:
            _start(conn, node, "rabbitmq-server.service")
    final = inspect(conn, plan)
    result.whole = all(m.galera_of(len(nodes)) for m in final)
    for m in final:
        say(f"{m.node}: {m.galera_text()}")
    return result
