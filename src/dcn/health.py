"""Live health per site: what each site's nodes reach of the control plane, and how
fast; the state of the site's compute services; how many servers it runs.

Reachability is measured from the site's own nodes (over SSH, a bounded TCP connect
to each endpoint), because that is the path the site's services use. Compute states
and server counts come from the control plane's API, asked from the operator's
machine. A site that can't be reached is reported as unreachable with the time it was
last seen (kept in the state store), never as an error of the tool. A stack the state
store has and the description no longer does is checked and shown as orphaned.

`reach` is the cheap view `dcn status` shows: from the lab's manifest (down, a site
cut, its machines not running), or for real hosts when `dcn health` last reached each
site, or, when asked, a bounded parallel TCP probe of every node's SSH port.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import resource
import selectors
import socket
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from dcn import remote
from dcn.deploy import SSH_PORT, ssh_address
from dcn.deploy.bundle import NODE_HOME, NODE_PYTHON
from dcn.errors import DcnError
from dcn.hosts import REAL_HOST_SETTINGS, connection_for
from dcn.lab import Connection, Lab, fullhost
from dcn.nextsteps import decommission_command, name_list, orphaned
from dcn.plan.serialize import plan_from_json
from dcn.plan.types import ControlPlaneOutputs, StackPlan
from dcn.services.base import Probe
from dcn.services.catalog import PROBES
from dcn.workspace import Workspace

PROBE = f"{NODE_HOME}/probe.py"
#: `dcn status --probe`: seconds a node's SSH port gets to accept, connections at once
PORT_TIMEOUT = 2.0
PORT_WIDTH = 256


@dataclass(slots=True)
class EndpointHealth:
    reachable_from: int
    nodes: int
    max_ms: float | None
    error: str | None = None


@dataclass(slots=True)
class ClusterRow:
    """One controller of a clustered control plane, as it sees its clusters."""

    node: str
    galera: str
    galera_ok: bool
    rabbitmq: str
    rabbitmq_ok: bool
    vips: list[str]
    ovn: str = ""
    ovn_ok: bool = True


def cluster_rows(conn: Connection, plan: StackPlan) -> list[ClusterRow]:
    """Galera size and state, RabbitMQ members and partitions, the VIPs held: per
    controller of a clustered control plane (none for one controller)."""
    from dcn import cluster

    if not plan.clustered:
        return []
    size = len(plan.controllers())
    rows = []
    for m in cluster.inspect(conn, plan, broker=True):
        rows.append(
            ClusterRow(
                node=m.node,
                galera=m.galera_text(),
                galera_ok=m.galera_of(size),
                rabbitmq=m.rabbitmq_text(),
                rabbitmq_ok=m.broker_of(size),
                vips=list(m.vips),
                ovn=m.ovn_text(),
                ovn_ok=m.ovn_ok,
            )
        )
    return rows


@dataclass(slots=True)
class SiteHealth:
    site: str
    kind: str
    az: str
    reachable: bool
    last_seen: str | None
    endpoints: dict[str, EndpointHealth] = field(default_factory=dict)
    #: host -> "up" | "down" (as the control plane's API reports it)
    computes: dict[str, str] = field(default_factory=dict)
    servers: int | None = None
    api_error: str | None = None
    #: in the state store, not in the description: why, and the command that removes it
    orphaned: str | None = None
    next: str | None = None
    #: a clustered control plane: each controller's Galera, RabbitMQ and VIPs
    cluster: list[ClusterRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _target(probe: Probe, outputs: ControlPlaneOutputs) -> str | None:
    if probe.endpoint:
        e = outputs.endpoint_map.get(probe.endpoint)
        return f"{e['host']}:{e['port']}" if e else None
    nodes = outputs.all_nodes_config.get(probe.nodes) or []
    port = outputs.global_config.get(probe.port_key) or probe.default_port
    return f"{nodes[0]}:{port}" if nodes else None


def targets(outputs: ControlPlaneOutputs) -> dict[str, str]:
    """name -> host:port a site's services connect to (what the services declare as
    their probes, found in the control plane's outputs)."""
    found = {p.name: _target(p, outputs) for p in PROBES}
    return {name: target for name, target in found.items() if target}


def probe_site(conn: Connection, plan: StackPlan, goals: dict[str, str]) -> dict:
    """Per node: endpoint -> {ok, ms, error}; None for a node that can't be reached."""
    argv = [NODE_PYTHON, PROBE, *(f"{k}={v}" for k, v in goals.items())]

    def one(node: Any) -> tuple[str, dict | None]:
        out = remote.run(conn, ssh_address(node), argv)
        try:
            return node.hostname, json.loads(out) if out else None
        except ValueError:
            return node.hostname, None

    with ThreadPoolExecutor(max_workers=min(16, len(plan.nodes) or 1)) as pool:
        return dict(pool.map(one, plan.nodes))


def _endpoints(per_node: dict[str, dict | None], names: list[str]) -> dict[str, EndpointHealth]:
    answered = {h: r for h, r in per_node.items() if r is not None}
    out = {}
    for name in names:
        results = [r[name] for r in answered.values() if name in r]
        ok = [x for x in results if x["ok"]]
        errors = sorted({x["error"] for x in results if not x["ok"] and x["error"]})
        out[name] = EndpointHealth(
            reachable_from=len(ok),
            nodes=len(per_node),
            max_ms=max((x["ms"] for x in ok), default=None),
            error=", ".join(errors) or None,
        )
    return out


def _api_view(ws: Workspace) -> tuple[dict[str, str], dict[str, int], str | None]:
    """Compute host -> up/down, AZ -> server count; or the API's error."""
    from dcn.cloud import admin_connection

    try:
        conn = admin_connection(ws, timeout=5)
        computes = {s.host: s.state for s in conn.compute.services(binary="nova-compute")}
        servers: dict[str, int] = {}
        for server in conn.compute.servers(details=True, all_projects=True):
            az = server.availability_zone or "?"
            servers[az] = servers.get(az, 0) + 1
        return computes, servers, None
    except DcnError as exc:  # not deployed yet, no lab: say so
        return {}, {}, exc.message
    except Exception as exc:  # any failure of the API is a finding, not a crash
        return {}, {}, f"control plane API unreachable ({type(exc).__name__})"


def check(ws: Workspace, sites: list[str] | None = None) -> list[SiteHealth]:
    dep = ws.deployment
    records = ws.store.latest_generations(dep.name)
    source = ws.planner().recorded_control_plane()
    goals = targets(source.outputs)
    conn = connection_for(ws)
    computes, servers, api_error = _api_view(ws)
    now = datetime.now(UTC)
    described = {s.name: s for s in dep.sites}
    # a stack the description dropped is still checked: its hosts may well run
    lost = orphaned({name: r.status for name, r in records.items()}, described)
    out = []
    for name in [*described, *lost]:
        if (sites and name not in sites) or name not in records:
            continue
        record = records[name]
        # the description's kind and AZ; an orphan's as last recorded
        site = described.get(name)
        kind, az = (site.kind, site.az) if site else (record.kind, record.az)
        plan = plan_from_json(record.plan_json())
        per_node = probe_site(conn, plan, goals)
        reachable = any(r is not None for r in per_node.values())
        if reachable:
            ws.store.mark_seen(dep.name, name, now)
        seen = ws.store.last_seen(dep.name, name)
        hosts = {n.hostname for n in plan.nodes}
        out.append(
            SiteHealth(
                site=name,
                kind=kind,
                az=az,
                reachable=reachable,
                last_seen=seen.isoformat(timespec="seconds") if seen else None,
                endpoints=_endpoints(per_node, list(goals)) if reachable else {},
                computes={h: s for h, s in computes.items() if h in hosts},
                servers=None if api_error else servers.get(az, 0),
                api_error=api_error,
                orphaned=f"in the state store, not in {ws.file}" if name in lost else None,
                next=decommission_command(name) if name in lost else None,
                cluster=cluster_rows(conn, plan) if plan.clustered else [],
            )
        )
    return out


# -- reach: what dcn status shows --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reach:
    """Whether a site's hosts can be reached now, and what says so."""

    #: None: not checked (real hosts without --probe)
    reachable: bool | None
    #: reachable | unreachable: WHY | partly reachable: nodes down: ... | last reached ...
    text: str
    #: when `dcn health` last reached the site (real hosts)
    last_seen: datetime | None = None


def _lab_reach(manifest: dict, site: str, nodes: list[tuple[str, dict]]) -> Reach:
    if site in (manifest.get("cut") or []):
        return Reach(False, "unreachable: site cut")
    if not nodes:
        return Reach(False, "unreachable: not in the lab ('dcn lab up' adds it)")
    down = [host for host, entry in nodes if not _machine_running(entry)]
    if len(down) == len(nodes):
        return Reach(False, f"unreachable: nodes down: {name_list(down)}")
    if down:
        return Reach(True, f"partly reachable: nodes down: {name_list(down)}")
    return Reach(True, "reachable")


def _machine_running(entry: dict) -> bool:
    if entry.get("kind") != fullhost.FULLHOST:
        return False  # an older lab's node: 'dcn lab down' then 'dcn lab up'
    try:
        return fullhost.running(entry)
    except (DcnError, KeyError, OSError, ValueError):
        return False


def reach(ws: Workspace, sites: Sequence[str], probe: bool = False) -> dict[str, Reach]:
    """site -> whether its hosts can be reached. The lab: its manifest (read once) and
    each node's machine. Real hosts: when `dcn health` last reached the site, or with
    `probe`, every node's SSH port now (bounded, in parallel)."""
    name = ws.deployment.name
    try:
        manifest = Lab(ws.state_dir, name).manifest()
    except (OSError, ValueError):
        return {s: Reach(None, "unknown: the lab's manifest is unreadable") for s in sites}
    if manifest is not None:
        per_site: dict[str, list[tuple[str, dict]]] = {}
        for host, entry in sorted((manifest.get("nodes") or {}).items()):
            if isinstance(entry, dict):
                per_site.setdefault(str(entry.get("site")), []).append((host, entry))
        found = {s: _lab_reach(manifest, s, per_site.get(s, [])) for s in sites}
        if probe:
            found.update(_probe_sites(ws, [s for s in sites if found[s].reachable]))
        return found
    if not any(os.environ.get(v) for v in REAL_HOST_SETTINGS):
        # no lab and no SSH settings: dcn has no way to these hosts (connection_for)
        return {s: Reach(False, "unreachable: lab down") for s in sites}
    if probe:
        return _probe_sites(ws, sites)
    out = {}
    for site, seen in _last_seen(ws, sites).items():
        text = f"last reached {ago(seen)} (dcn health)" if seen else "not checked yet"
        out[site] = Reach(None, text, seen)
    return out


def _last_seen(ws: Workspace, sites: Sequence[str]) -> dict[str, datetime | None]:
    """When `dcn health` last reached each site (one query for all)."""
    seen = ws.store.last_seen_all(ws.deployment.name)
    return {site: seen.get(site) for site in sites}


def ago(when: datetime) -> str:
    """How long ago, in the unit an operator reads at a glance (status, the web view)."""
    seconds = (datetime.now(UTC) - when.replace(tzinfo=when.tzinfo or UTC)).total_seconds()
    if seconds < 120:
        return f"{max(seconds, 0):.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def _probe_sites(ws: Workspace, sites: Sequence[str]) -> dict[str, Reach]:
    """Every node of `sites` (their newest recorded plans): does its SSH port accept?"""
    records = ws.store.latest_generations(ws.deployment.name)
    nodes: dict[str, list[tuple[str, str]]] = {}
    for site in sites:
        if site in records:
            plan = plan_from_json(records[site].plan_json())
            nodes[site] = [(n.hostname, n.ssh_address or "") for n in plan.nodes]
    answers = probe_ports({a for found in nodes.values() for _, a in found if a})
    out = {}
    for site in sites:
        if site not in nodes:
            out[site] = Reach(None, "not planned: no hosts known")
            continue
        down = [h for h, a in nodes[site] if not a or answers.get(a) is not None]
        if not down:
            out[site] = Reach(True, "reachable")
        elif len(down) < len(nodes[site]):
            out[site] = Reach(True, f"partly reachable: nodes down: {name_list(down)}")
        else:
            out[site] = Reach(False, f"unreachable: no node answers on port {SSH_PORT}")
    return out


def _resolve(addresses: Iterable[str]) -> dict[str, tuple[int, str] | str]:
    """address -> (family, IP) to connect to, or why there is none. Names (an
    ansible_host) are looked up in parallel, literal addresses are taken as they are."""

    def one(address: str) -> tuple[str, tuple[int, str] | str]:
        try:
            ip = ipaddress.ip_address(address)
            return address, (socket.AF_INET6 if ip.version == 6 else socket.AF_INET, str(ip))
        except ValueError:
            pass
        try:
            info = socket.getaddrinfo(address, SSH_PORT, type=socket.SOCK_STREAM)
        except OSError as exc:
            return address, f"not resolved ({exc.strerror or exc})"
        return address, (info[0][0], str(info[0][4][0]))

    with ThreadPoolExecutor(max_workers=16) as pool:
        return dict(pool.map(one, addresses))


def probe_ports(
    addresses: Iterable[str],
    port: int = SSH_PORT,
    timeout: float = PORT_TIMEOUT,
    width: int = PORT_WIDTH,
) -> dict[str, str | None]:
    """address -> None when it accepted a TCP connection on `port`, else why not.

    Non-blocking connects, at most `width` (bounded by the open-file limit) in flight,
    each given `timeout` seconds: 50,000 nodes that all time out take
    50,000 / width x timeout seconds, not 50,000 x timeout.
    """
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    width = max(1, min(width, (soft // 2) if soft > 0 else width))
    targets = _resolve(sorted(set(addresses)))
    result: dict[str, str | None] = {a: t for a, t in targets.items() if isinstance(t, str)}
    pending = [(a, t) for a, t in targets.items() if not isinstance(t, str)]
    pending.reverse()
    inflight: dict[socket.socket, tuple[str, float]] = {}
    with selectors.DefaultSelector() as sel:
        try:
            while pending or inflight:
                while pending and len(inflight) < width:
                    address, (family, ip) = pending.pop()
                    try:
                        sock = socket.socket(family, socket.SOCK_STREAM)
                    except OSError as exc:  # no such family here, no file left
                        result[address] = exc.strerror or str(exc)
                        continue
                    sock.setblocking(False)
                    code = sock.connect_ex((ip, port))
                    if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
                        sel.register(sock, selectors.EVENT_WRITE, address)
                        inflight[sock] = (address, time.monotonic() + timeout)
                        continue
                    result[address] = None if code == 0 else os.strerror(code)
                    sock.close()
                if not inflight:
                    continue
                soonest = min(deadline for _, deadline in inflight.values())
                for key, _ in sel.select(max(0.0, soonest - time.monotonic())):
                    sock = key.fileobj  # type: ignore[assignment]
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    result[key.data] = None if code == 0 else os.strerror(code)
                    sel.unregister(sock)
                    sock.close()
                    del inflight[sock]
                now = time.monotonic()
                for sock, (address, deadline) in list(inflight.items()):
                    if deadline <= now:
                        result[address] = "timed out"
                        sel.unregister(sock)
                        sock.close()
                        del inflight[sock]
        finally:
            for sock in inflight:
                sock.close()
    return result
