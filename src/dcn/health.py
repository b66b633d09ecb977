"""Live health per site: what each site's nodes reach of the control plane, and how
fast; the state of the site's compute services; how many servers it runs.

Reachability is measured from the site's own nodes (over SSH, a bounded TCP connect
to each endpoint), because that is the path the site's services use. Compute states
and server counts come from the control plane's API, asked from the operator's
machine. A site that can't be reached is reported as unreachable with the time it was
last seen (kept in the state store), never as an error of the tool.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from dcn import remote
from dcn.deploy import connection_for, ssh_address
from dcn.deploy.bundle import NODE_HOME, NODE_PYTHON
from dcn.errors import DcnError
from dcn.lab import Connection
from dcn.plan.serialize import plan_from_json
from dcn.plan.types import ControlPlaneOutputs, StackPlan
from dcn.services.base import Probe
from dcn.services.catalog import PROBES
from dcn.workspace import Workspace

PROBE = f"{NODE_HOME}/probe.py"


@dataclass(slots=True)
class EndpointHealth:
    reachable_from: int
    nodes: int
    max_ms: float | None
    error: str | None = None


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
    out = []
    for site in dep.sites:
        if (sites and site.name not in sites) or site.name not in records:
            continue
        plan = plan_from_json(records[site.name].plan_json())
        per_node = probe_site(conn, plan, goals)
        reachable = any(r is not None for r in per_node.values())
        if reachable:
            ws.store.mark_seen(dep.name, site.name, now)
        seen = ws.store.last_seen(dep.name, site.name)
        hosts = {n.hostname for n in plan.nodes}
        out.append(
            SiteHealth(
                site=site.name,
                kind=site.kind,
                az=site.az,
                reachable=reachable,
                last_seen=seen.isoformat(timespec="seconds") if seen else None,
                endpoints=_endpoints(per_node, list(goals)) if reachable else {},
                computes={h: s for h, s in computes.items() if h in hosts},
                servers=None if api_error else servers.get(site.az, 0),
                api_error=api_error,
            )
        )
    return out
