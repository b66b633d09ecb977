"""Every site's status row, for `dcn status` and the web view (`dcn serve`) alike.

Status tells the truth about each site: a deploy whose dcn is gone is interrupted, not
deploying; whether its hosts can be reached now (`dcn.health.reach`); a stack the
description dropped is shown as orphaned, never hidden. Everything here comes from the
state store and the lab's manifest (no host is asked unless `probe`), so it is cheap
enough to show for thousands of sites.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dcn.nextsteps import RunHolder, deploying_step, orphan_step, orphaned
from dcn.state.records import GenerationStatus, StatusRow
from dcn.workspace import Workspace


def _holders(ws: Workspace, deploying: list[StatusRow]) -> dict[str, RunHolder]:
    """site -> who runs its `deploying` generation (only these rows cost a look)."""
    if not deploying:
        return {}
    from dcn.deploy import runs

    name = ws.deployment.name
    before = ws.store.lock_info(name)
    records = ws.store.latest_generations(name)  # after the lock: a run may have ended
    holders = {}
    for row in deploying:
        record = records.get(row.site)
        if record is None or record.status is not GenerationStatus.DEPLOYING:
            continue
        holders[row.site] = runs.holder(ws.state_dir, record, before)
    if any(h.interrupted for h in holders.values()):
        # a deploy that started after the first look holds the lock now: ask again
        after = ws.store.lock_info(name)
        if after != before:
            for site, h in holders.items():
                if h.interrupted:
                    holders[site] = runs.holder(ws.state_dir, records[site], after)
    return holders


def status_data(ws: Workspace, probe: bool = False) -> list[dict[str, Any]]:
    """One row per site of the description, with what the state store knows of it, and
    one per stack the store has that the description no longer does (orphaned)."""
    from dcn.health import reach

    dep = ws.deployment
    latest = ws.store.status_rows(dep.name)
    rows = {r.site: r for r in latest}
    deployed = ws.store.deployed_generations(dep.name)
    marks = ws.store.redeploy_marks(dep.name)
    steps = ws.next_steps()
    sites = {site.name: site for site in dep.sites}
    lost = orphaned({r.site: r.status for r in latest}, sites)
    holders = _holders(ws, [r for r in latest if r.status is GenerationStatus.DEPLOYING])
    reached = reach(ws, [*sites, *lost], probe)
    data = []
    for name in [*sites, *lost]:
        r = rows.get(name)
        d = deployed.get(name)
        holder = holders.get(name)
        if name in lost:
            step = orphan_step(name, str(ws.file))
            status = text = "orphaned"
            kind, az, nodes = rows[name].kind, rows[name].az, rows[name].nodes
        else:
            site = sites[name]
            step = steps[name]
            status = str(r.status) if r else "not planned"
            text = status
            if holder is not None and r is not None:
                step = deploying_step(step, r.generation, holder)
                status = "interrupted" if holder.interrupted else status
                text = holder.status()
            kind, az = site.kind, site.az
            nodes = r.nodes if r else sum(spec.size for spec in site.roles.values())
        where = reached[name]
        data.append(
            {
                "site": name,
                "kind": kind,
                "az": az,
                "nodes": nodes,
                #: the newest generation's status; interrupted: deploying, and the dcn
                #: that ran it is gone; orphaned: not in the description any more
                "status": status,
                #: the status as the table shows it (with the gone dcn's pid)
                "status_text": text,
                "generation_status": str(r.status) if r else None,
                "generation": r.generation if r else None,
                "deployed_generation": d.number if d else None,
                "export": r.consumed_export if r else None,
                "stale": bool(r and r.stale),
                #: why the nodes need a redeploy (secrets rotated), or None
                "redeploy": marks.get(name),
                #: the exact command that converges the site, or None; and why
                "next": step.command or None,
                "reason": step.reason or None,
                "deploys": list(step.deploys),
                #: who runs a deploying generation: alive | gone | elsewhere, pid, host
                "run": holder.as_dict() if holder else None,
                "orphaned": name in lost,
                #: can its hosts be reached now (None: not checked), and what says so
                "reachable": where.reachable,
                "reach": where.text,
                "last_seen": where.last_seen.isoformat(timespec="seconds")
                if where.last_seen
                else None,
                "updated": r.updated_at.isoformat(timespec="seconds") if r else None,
            }
        )
    return data


@dataclass(frozen=True, slots=True)
class ZoneCounts:
    """What the control plane's API says per availability zone (each edge site is one):
    nova-compute services up and down, and servers. `error` when it could not be asked."""

    computes_up: dict[str, int] = field(default_factory=dict)
    computes_down: dict[str, int] = field(default_factory=dict)
    servers: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def zone_counts(ws: Workspace, timeout: float = 5.0) -> ZoneCounts:
    """Two API calls for the whole fleet (services, servers), never one per site; any
    failure of the API is a finding, not a crash (as in `dcn health`)."""
    from dcn.cloud import admin_connection
    from dcn.errors import DcnError

    try:
        conn = admin_connection(ws, timeout=timeout)
        up: dict[str, int] = {}
        down: dict[str, int] = {}
        for service in conn.compute.services(binary="nova-compute"):
            zone = service.availability_zone or "?"
            counts = up if service.state == "up" else down
            counts[zone] = counts.get(zone, 0) + 1
        servers: dict[str, int] = {}
        for server in conn.compute.servers(details=True, all_projects=True):
            zone = server.availability_zone or "?"
            servers[zone] = servers.get(zone, 0) + 1
        return ZoneCounts(up, down, servers)
    except DcnError as exc:  # not deployed yet, no lab: say so
        return ZoneCounts(error=exc.message)
    except Exception as exc:  # the API's failure is a finding about the cloud
        return ZoneCounts(error=f"control plane API unreachable ({type(exc).__name__})")
