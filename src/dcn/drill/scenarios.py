"""Drill scenarios: each injects one fault on the lab, acts during it, measures the
recovery and judges the seed's claims it tests (see `dcn.drill.CLAIMS`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from dcn.drill import POLL, RECOVERY_WAIT, Drill, Report, Say, controllers
from dcn.drill.dataplane import DataPlane
from dcn.errors import DcnError
from dcn.lab import faults
from dcn.workspace import Workspace


def edge_site_loss(d: Drill, site: str, other: str, cut: float) -> None:
    hosts = d.hosts(site)
    pids = d.compute_pids(hosts)
    created: list[str] = []
    plane = DataPlane(d, site)
    try:
        guests = plane.setup(created)
        sid, status, _ = d.boot(site, f"drill-{site}-before")
        created.append(sid)
        d.attempt(f"boot a server in {site} before the cut", status)
        if status != "ACTIVE":
            raise DcnError(f"cannot start the drill: a server in {site} is {status}")
        statuses: set[str] = set()
        down_after = None
        if guests:
            plane.start(cut)
        with d.cut(site):
            t_cut = time.monotonic()
            stop_at = t_cut + cut
            accepted_stop = False
            if guests:
                plane.during()
            try:
                d.conn.compute.stop_server(sid)
                accepted_stop = True
                d.attempt(f"stop the server in {site} during the cut", "accepted")
            except Exception as exc:
                d.attempt(
                    f"stop the server in {site} during the cut", "refused", type(exc).__name__
                )
            oid, ostatus, otook = d.boot(other, f"drill-{other}-during", wait=min(60.0, cut + 30))
            created.append(oid)
            d.attempt(
                f"boot a server in {other} during the cut",
                ostatus,
                f"ACTIVE after {otook}s" if otook else "",
            )
            while time.monotonic() < stop_at:
                states = d.compute_states() or {}
                if down_after is None and any(states.get(h) == "down" for h in hosts):
                    down_after = round(time.monotonic() - t_cut, 1)
                    d.log(f"{site}'s compute marked down after {down_after}s")
                    # a create in the cut site's own AZ, once the cloud knows it is down
                    xid, xstatus, _ = d.boot(site, f"drill-{site}-during", wait=20.0)
                    created.append(xid)
                    d.attempt(
                        f"boot a server in {site} during the cut (compute down)",
                        xstatus,
                        d.fault(xid) if xstatus == "ERROR" else "",
                    )
                status = d.server_status(sid)
                if status:
                    statuses.add(status)
                time.sleep(POLL)
        d.report.figures["cut_seconds"] = cut
        d.report.figures["compute_marked_down_after"] = down_after
        if guests:
            plane.after()
        up = d.wait_reported(hosts, d.healed_at, RECOVERY_WAIT)
        d.report.figures["computes_up_after_heal"] = up
        d.log(f"{site}'s computes up {up}s after heal" if up is not None else "computes not up")
        final = None
        if accepted_stop:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                final = d.server_status(sid)
                if final == "SHUTOFF":
                    break
                time.sleep(POLL)
            d.attempt(
                "the stop accepted during the cut, after heal",
                final or "unknown",
                "executed after the uplink came back" if final == "SHUTOFF" else "not executed",
            )
        nid, nstatus, ntook = d.boot(site, f"drill-{site}-after")
        created.append(nid)
        d.report.figures["new_server_active_after_heal"] = ntook
        d.attempt(f"boot a server in {site} after heal", nstatus, f"{ntook}s" if ntook else "")
        restarted = d.restarted(pids)
        during = statuses - {"ACTIVE"} - ({"SHUTOFF"} if accepted_stop else set())
        d.claim(
            "edge-keeps-running",
            not during,
            f"server status during the cut: {sorted(statuses) or ['unknown']}",
        )
        d.claim(
            "edge-isolated",
            ostatus == "ACTIVE",
            f"a server booted in {other} during the cut is {ostatus}",
        )
        d.claim(
            "reconnect",
            up is not None and not restarted,
            f"computes up {up}s after heal; restarted processes: {restarted or 'none'}",
        )
        if accepted_stop:
            d.claim(
                "not-resumed",
                final != "SHUTOFF",
                f"a stop accepted during a {cut:.0f}s cut ended {final}: "
                + (
                    "it was queued and completed after heal"
                    if final == "SHUTOFF"
                    else "it was not executed"
                ),
            )
        d.claim(
            "threshold",
            up is not None and up <= 15,
            f"computes up {up}s after the uplink returned (threshold 15 s)",
        )
        if guests:
            plane.claims()
    finally:
        plane.close()
        d.cleanup(created)


def control_plane_loss(d: Drill, cut: float) -> None:
    cp = d.dep.control_plane
    assert cp is not None
    edges = [s.name for s in d.dep.edges]
    hosts = [h for e in edges for h in d.hosts(e)]
    pids = d.compute_pids(hosts)
    created: list[str] = []
    plane = DataPlane(d, _data_plane_site(d, edges))
    try:
        guests = plane.setup(created)
        servers = {}
        for e in edges:
            sid, status, _ = d.boot(e, f"drill-{e}-before")
            created.append(sid)
            servers[e] = sid
            d.attempt(f"boot a server in {e} before the cut", status)
        api_during = None
        if guests:
            plane.start(cut)
        with d.cut(cp.name):
            t_cut = time.monotonic()
            time.sleep(min(3.0, cut))
            api_during = d.api_ok()
            d.attempt("an API call during the cut", "succeeded" if api_during else "failed")
            if guests:
                plane.during()
            time.sleep(max(0.0, cut - (time.monotonic() - t_cut)))
        if guests:
            plane.after()
        t_heal = time.monotonic()
        deadline = t_heal + RECOVERY_WAIT
        while not d.api_ok() and time.monotonic() < deadline:
            time.sleep(POLL)
        api_back = round(time.monotonic() - t_heal, 1)
        up = d.wait_reported(hosts, d.healed_at, RECOVERY_WAIT)
        d.report.figures.update(
            {
                "cut_seconds": cut,
                "api_back_after_heal": api_back,
                "computes_up_after_heal": None if up is None else round(up + api_back, 1),
            }
        )
        d.log(f"API back {api_back}s after heal; computes up {up}s later")
        statuses = {e: d.server_status(s) for e, s in servers.items()}
        restarted = d.restarted(pids)
        d.claim(
            "cp-no-api",
            api_during is False,
            f"an API call during the cut {'failed' if api_during is False else 'succeeded'}",
        )
        d.claim(
            "edge-keeps-running",
            all(s == "ACTIVE" for s in statuses.values()),
            f"edge servers after the cut: {statuses}",
        )
        d.claim(
            "reconnect",
            up is not None and not restarted,
            f"computes up {up}s after the API; restarted processes: {restarted or 'none'}",
        )
        if guests:
            plane.claims()
    finally:
        plane.close()
        d.cleanup(created)


def _data_plane_site(d: Drill, edges: list[str]) -> str:
    """The edge whose guests a control-plane drill watches: one on the metadata route
    (metadata is what a control-plane loss takes from guests), else the first."""
    routed = [
        e for e in edges if (s := d.dep.site(e)) is not None and s.instance_metadata.metadata_route
    ]
    return (routed or edges)[0]


def service_outage(d: Drill, service: str, seconds: float, kill: bool) -> None:
    """Stop (or kill) one control-plane service, then check everything reconnects."""
    cp = d.dep.control_plane
    assert cp is not None
    api_node = d.plans[cp.name].api_node()
    if api_node is None:
        raise DcnError(f"{cp.name} has no controller", hint="add a Controller role")
    controller = api_node.hostname
    hosts = [h for e in d.dep.edges for h in d.hosts(e.name)]
    pids = d.compute_pids(hosts)
    before = faults.units_status(d.lab, controller)
    if kill:
        faults.service(d.lab, controller, "kill", service)
        d.mark("fault", what="service-kill", target=controller, service=service)
        d.log(f"killed {service} on {controller} (systemd restarts it)")
        time.sleep(1.0)
        api_during = d.api_ok()
    else:
        faults.service(d.lab, controller, "stop", service)
        d.mark("fault", what="service-stop", target=controller, service=service)
        d.log(f"stopped {service} on {controller} for {seconds:.0f}s")
        time.sleep(min(3.0, seconds))
        api_during = d.api_ok()
        time.sleep(max(0.0, seconds - 3.0))
        faults.service(d.lab, controller, "start", service)
        d.mark("heal", what="service-stop", target=controller, service=service)
        d.log(f"started {service} again")
    d.attempt(f"an API call during the {service} outage", "succeeded" if api_during else "failed")
    restored = datetime.now(UTC)
    t = time.monotonic()
    while not d.api_ok() and time.monotonic() - t < RECOVERY_WAIT:
        time.sleep(POLL)
    api_back = round(time.monotonic() - t, 1)
    up = d.wait_reported(hosts, restored, RECOVERY_WAIT)
    edge = d.dep.edges[0].name
    sid, status, took = d.boot(edge, f"drill-{edge}-after")
    d.cleanup([sid])
    d.attempt(f"boot a server in {edge} after recovery", status, f"{took}s" if took else "")
    after = faults.units_status(d.lab, controller)
    others = [
        n
        for n in after
        if n != service and (after[n] or {}).get("pid") != (before.get(n) or {}).get("pid")
    ]
    restarted = d.restarted(pids)
    d.report.figures.update(
        {
            "outage_seconds": seconds,
            "api_back_after": api_back,
            "computes_up_after": up,
            "server_active_after": took,
        }
    )
    d.claim(
        "reconnect",
        status == "ACTIVE" and not restarted and not others,
        f"a new server is {status}; restarted: computes {restarted or 'none'}, "
        f"other control-plane processes {others or 'none'}",
    )


def compute_failure(d: Drill, site: str, other: str, seconds: float) -> None:
    hosts = d.hosts(site)
    victim = hosts[0]
    faults.service(d.lab, victim, "stop", "nova-compute")
    d.mark("fault", what="service-stop", target=victim, service="nova-compute")
    d.log(f"stopped nova-compute on {victim}")
    try:
        down = d.wait_computes([victim], "down", RECOVERY_WAIT)
        d.report.figures["marked_down_after"] = down
        states = d.compute_states() or {}
        others_up = [h for h, s in states.items() if h != victim and s == "up"]
        oid, ostatus, _ = d.boot(other, f"drill-{other}-during")
        d.cleanup([oid])
        d.attempt(f"boot a server in {other} while {victim} is down", ostatus)
        d.claim(
            "edge-isolated",
            ostatus == "ACTIVE" and victim not in others_up,
            f"{victim} down after {down}s; up meanwhile: {sorted(others_up)}; "
            f"a server in {other} is {ostatus}",
        )
    finally:
        faults.service(d.lab, victim, "start", "nova-compute")
        d.mark("heal", what="service-stop", target=victim, service="nova-compute")
        started = datetime.now(UTC)
        d.log(f"started nova-compute on {victim} again")
    up = d.wait_reported([victim], started, RECOVERY_WAIT)
    d.report.figures["up_after_restart"] = up


SCENARIOS = (
    "edge-site-loss",
    "control-plane-loss",
    "compute-failure",
    "db-outage",
    "broker-restart",
    "controller-loss",
    "controller-return",
    "control-plane-power-loss",
)


def _edges(d: Drill, site: str | None) -> tuple[str, str]:
    edges = [s.name for s in d.dep.edges]
    if len(edges) < 2:
        raise DcnError("this drill needs two edge sites", hint="add an edge site")
    chosen = site or edges[0]
    if chosen not in edges:
        raise DcnError(f"{chosen} is not an edge site", hint="edge sites: " + ", ".join(edges))
    return chosen, next(e for e in edges if e != chosen)


def run(
    ws: Workspace,
    scenario: str,
    say: Say,
    *,
    site: str | None = None,
    seconds: float | None = None,
    node: str | None = None,
) -> tuple[int, Report]:
    """Run one scenario; store and return (drill id, report)."""
    if scenario not in SCENARIOS:
        raise DcnError(f"unknown drill {scenario!r}", hint="drills: " + ", ".join(SCENARIOS))
    params: dict = {"site": site, "seconds": seconds}
    d = Drill(ws, scenario, params, say)
    if scenario == "edge-site-loss":
        chosen, other = _edges(d, site)
        d.report.params = {"site": chosen, "other": other, "cut": seconds or 20}
        edge_site_loss(d, chosen, other, seconds or 20)
    elif scenario == "control-plane-loss":
        d.report.params = {"cut": seconds or 30}
        control_plane_loss(d, seconds or 30)
    elif scenario == "compute-failure":
        chosen, other = _edges(d, site)
        d.report.params = {"site": chosen, "other": other}
        compute_failure(d, chosen, other, seconds or 0)
    elif scenario == "controller-loss":
        d.report.params = {"node": node or "the VIP holder", "seconds": seconds or 30}
        controllers.controller_loss(d, node, seconds or 30)
    elif scenario == "controller-return":
        d.report.params = {"node": node or "a controller without the VIPs", "away": seconds or 20}
        controllers.controller_return(d, node, seconds or 20)
    elif scenario == "control-plane-power-loss":
        d.report.params = {"off": seconds or 10}
        controllers.power_loss(d, seconds or 10)
    elif scenario == "db-outage":
        d.report.params = {"service": "mariadb", "seconds": seconds or 15}
        service_outage(d, "mariadb", seconds or 15, kill=False)
    else:
        d.report.params = {"service": "rabbitmq", "kill": True}
        service_outage(d, "rabbitmq", 0, kill=True)
    report = d.finish()
    drill_id = ws.store.add_drill(ws.deployment.name, scenario, report.ok, report.as_dict())
    return drill_id, report
