"""Drills of a clustered control plane: a controller lost like a host losing power,
coming back, and every controller losing power at once.

What a client sees is measured by probing the API every second (an authenticated
nova call through the internal VIP: haproxy, nova-api, keystone and the database all
answer it); what the clusters do, by asking every controller (`dcn.cluster`); the
database tier's write stall, by writing through a surviving member every 0.2 s.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

import requests

from dcn import cluster
from dcn.cloud import admin_connection
from dcn.drill import POLL, Drill, Recorder
from dcn.errors import DcnError
from dcn.hosts import connection_for
from dcn.plan.types import StackPlan

#: a probe's own timeout: a probe a second
PROBE_TIMEOUT = 1.0
#: the longest any phase waits (the API back, the cluster whole)
WAIT = 240.0
#: an operator's client during the loss: patient, but not forever
CLIENT_TIMEOUT = 120.0


class ProbeResult(NamedTuple):
    """One API probe: when it started (seconds since the probe's start), whether it
    answered 200, and how long it took."""

    t: float
    ok: bool
    latency: float


@dataclass(slots=True)
class ApiProbe:
    """Probes the API every second in a thread. The outage is the time from the last
    success before the first failure to the first success after the last failure."""

    url: str
    token: str
    results: list[ProbeResult] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _t0: float = 0.0

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                ok = (
                    session.get(
                        self.url, headers={"X-Auth-Token": self.token}, timeout=PROBE_TIMEOUT
                    ).status_code
                    == 200
                )
            except requests.RequestException:
                ok = False
            took = round(time.monotonic() - began, 3)
            self.results.append(ProbeResult(round(began - self._t0, 2), ok, took))
            self._stop.wait(max(0.0, 1.0 - (time.monotonic() - began)))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def failed(self) -> int:
        return sum(not p.ok for p in self.results)

    def outage(self) -> float:
        failures = [p.t for p in self.results if not p.ok]
        if not failures:
            return 0.0
        before = [p.t for p in self.results if p.ok and p.t < failures[0]]
        after = [p.t for p in self.results if p.ok and p.t > failures[-1]]
        start = before[-1] if before else failures[0]
        end = after[0] if after else self.results[-1].t
        return round(end - start, 1)

    def ok_since(self, t: float) -> bool:
        """A probe started after `t` (seconds since start) succeeded."""
        return any(p.ok for p in self.results if p.t >= t)

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def record(self, d: Recorder) -> None:
        """Every probe into the drill's marks, on the drill's clock (once, after stop)."""
        offset = self._t0 - d.t0
        for p in self.results:
            d.mark("probe", t=round(offset + p.t, 2), ok=p.ok, latency=p.latency)


def _api_probe(d: Drill) -> ApiProbe:
    """A probe of nova's flavor list through the internal VIP, with a token taken now
    (the token stays valid on every controller: they share the fernet keys)."""
    token = d.conn.session.get_token()
    endpoint = d.conn.compute.get_endpoint()
    return ApiProbe(url=f"{endpoint.rstrip('/')}/flavors", token=token)


def _plan(d: Drill) -> StackPlan:
    cp = d.dep.control_plane
    if cp is None or cp.name not in d.plans or not d.plans[cp.name].clustered:
        raise DcnError(
            "this drill needs a clustered control plane (ha_size 3)",
            hint="deploy examples/dcn-ha.yaml: 'dcn lab up; dcn deploy central'",
        )
    return d.plans[cp.name]


def _members(d: Drill, plan: StackPlan, broker: bool = False) -> list[cluster.Member]:
    return cluster.inspect(connection_for(d.ws), plan, broker=broker)


def _holder(d: Drill, plan: StackPlan) -> str:
    vip = plan.network.vips.get("internal_api")
    holders = cluster.vip_holders(plan, _members(d, plan)).get(vip or "", [])
    if len(holders) != 1:
        raise DcnError(
            f"the internal VIP {vip} is held by {holders or 'no controller'}",
            hint="'dcn health central' shows the cluster; the drill needs one holder",
        )
    return holders[0]


def _wait_whole(d: Drill, plan: StackPlan, limit: float = WAIT) -> float | None:
    """Seconds until every controller is a synced member, brokers run with every node,
    and each VIP has one holder (None: not in time)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if cluster.whole(plan, _members(d, plan, broker=True)):
            return round(time.monotonic() - started, 1)
        time.sleep(POLL)
    return None


def _write_probe(d: Drill, plan: StackPlan, node: str, seconds: float) -> threading.Thread:
    """Writes through `node` for `seconds` in a thread; its result lands in figures."""
    target = next(n for n in plan.nodes if n.hostname == node)
    conn = connection_for(d.ws)

    def run() -> None:
        result = cluster.writes(conn, target, seconds)
        d.report.figures["db_writes"] = result.get("writes")
        d.report.figures["db_writes_failed"] = result.get("failed")
        d.report.figures["db_write_stall_seconds"] = result.get("longest_stall")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _survivors(
    d: Drill, plan: StackPlan, survivors: list[str], limit: float = 60.0
) -> tuple[list[cluster.Member], float | None]:
    """The survivors' views once Galera counts only them (bounded): a member lost
    without a word is noticed after evs.suspect_timeout. None: not in time."""
    started = time.monotonic()
    while True:
        members = [m for m in _members(d, plan, broker=True) if m.node in survivors]
        if all(m.galera_of(len(survivors)) for m in members):
            return members, round(time.monotonic() - started, 1)
        if time.monotonic() - started > limit:
            return members, None
        time.sleep(POLL)


def _edge_hosts(d: Drill) -> list[str]:
    return [h for e in d.dep.edges for h in d.hosts(e.name)]


def controller_loss(d: Drill, node: str | None, seconds: float) -> None:
    """Power off the controller holding the VIPs (or `node`) for `seconds`, measure
    what a client and the clusters see, boot a server in an edge AZ meanwhile; then
    power it back and wait until the cluster is whole again."""
    plan = _plan(d)
    victim = node or _holder(d, plan)
    survivors = [n.hostname for n in plan.controllers() if n.hostname != victim]
    edges = [e.name for e in d.dep.edges]
    hosts = _edge_hosts(d)
    pids = d.compute_pids(hosts)
    created: list[str] = []
    probe = _api_probe(d)
    probe.start()
    writer = _write_probe(d, plan, survivors[0], seconds)
    try:
        time.sleep(3)
        d.mark("fault", what="power-off", target=victim)  # the plug pulled
        d.lab.node_action(victim, "stop")
        t_stop = probe.elapsed()
        d.log(
            f"powered off {victim} (it held the VIPs)" if node is None else f"powered off {victim}"
        )
        while not probe.ok_since(t_stop + 0.5) and probe.elapsed() - t_stop < WAIT:
            time.sleep(0.2)
        d.log(f"API answers again {round(probe.elapsed() - t_stop, 1)}s after the power loss")
        members, converged = _survivors(d, plan, survivors)
        if converged is not None:
            converged = round(probe.elapsed() - t_stop, 1)
        d.report.figures["galera_without_it_after"] = converged
        d.log(
            f"Galera counts {len(survivors)} members {converged}s after the power loss"
            if converged is not None
            else f"Galera still does not count {len(survivors)} members"
        )
        holders = cluster.vip_holders(plan, members)
        new_holder = holders.get(plan.network.vips.get("internal_api", ""), [])
        galera = {m.node: m.galera_text() for m in members}
        brokers = {m.node: m.rabbitmq_text() for m in members}
        d.log(f"Galera on the survivors: {galera}")
        d.log(f"RabbitMQ on the survivors: {brokers}")
        d.log(f"the internal VIP is on {new_holder or 'no node'}")
        galera_on = all(m.galera_of(len(survivors)) for m in members)
        broker_on = all(m.broker_of(len(survivors)) for m in members)
        # as an operator's client would: it waits for the API (the drill's own calls
        # give up after 5 s); how long the create took is in the timeline
        patient = admin_connection(d.ws, timeout=CLIENT_TIMEOUT)
        sid, status, took = d.boot(edges[0], f"drill-{edges[0]}-controller-lost", conn=patient)
        created.append(sid)
        d.attempt(
            f"boot a server in {edges[0]} during the loss",
            status,
            f"ACTIVE after {took}s" if took else d.fault(sid) if status == "ERROR" else "",
        )
        states = d.compute_states() or {}
        computes_up = all(states.get(h) == "up" for h in hosts)
        d.log(f"edge computes during the loss: {states}")
        remaining = seconds - (probe.elapsed() - t_stop)
        if remaining > 0:
            time.sleep(remaining)
        writer.join(timeout=seconds + 130)
        probe.stop()
        d.report.figures.update(
            {
                "api_probes": len(probe.results),
                "api_failed_probes": probe.failed(),
                "api_outage_seconds": probe.outage(),
                "galera_members_during": min((m.galera_size for m in members), default=0),
            }
        )
        d.claim(
            "cp-no-api",
            not probe.ok_since(t_stop + 0.5),
            f"losing {victim} of {len(plan.controllers())} controllers: "
            f"{probe.failed()} of {len(probe.results)} probes failed, API out "
            f"{probe.outage()}s, then answering through {new_holder or 'no node'}",
        )
        d.claim(
            "threshold",
            probe.outage() < 15,
            f"API outage {probe.outage()}s against the seed's 15 s outage threshold",
        )
        d.claim(
            "ha-survives",
            galera_on and broker_on and bool(new_holder) and status == "ACTIVE",
            f"Galera {'went on' if galera_on else 'did not go on'} with "
            f"{len(survivors)} nodes, RabbitMQ {'did' if broker_on else 'did not'}; "
            f"VIP on {new_holder or 'none'}; server in {edges[0]} {status}",
        )
        restarted = d.restarted(pids)
        d.claim(
            "edge-keeps-running",
            computes_up and not restarted,
            f"edge computes up during the loss: {computes_up}; restarted: {restarted or 'none'}",
        )
    finally:
        probe.stop()
        probe.record(d)
        d.mark("heal", what="power-off", target=victim)
        d.lab.node_action(victim, "start")
        d.log(f"powered {victim} on again")
        whole = _wait_whole(d, plan)
        d.report.figures["cluster_whole_after_return"] = whole
        d.log(f"cluster whole {whole}s after {victim} booted" if whole else "cluster not whole")
        d.cleanup(created)


def controller_return(d: Drill, node: str | None, seconds: float) -> None:
    """A controller away for `seconds` (writes go on without it) comes back: how long
    until Galera (by IST), RabbitMQ and the VIPs make one whole cluster again."""
    plan = _plan(d)
    names = [n.hostname for n in plan.controllers()]
    holder = _holder(d, plan)
    # by default not the VIP holder: this drill measures the rejoin, not a failover
    victim = node or next(n for n in reversed(names) if n != holder)
    d.mark("fault", what="power-off", target=victim)
    d.lab.node_action(victim, "stop")
    d.log(f"powered off {victim} for {seconds}s")
    time.sleep(seconds)
    before = {m.node: m.galera.get("wsrep_last_committed") for m in _members(d, plan)}
    d.log(f"last committed on the others while it was away: {before}")
    started = time.monotonic()
    d.mark("heal", what="power-off", target=victim)
    d.lab.node_action(victim, "start")
    booted = round(time.monotonic() - started, 1)
    d.log(f"{victim} booted in {booted}s")
    whole = _wait_whole(d, plan)
    total = None if whole is None else round(booted + whole, 1)
    d.report.figures.update(
        {"away_seconds": seconds, "boot_seconds": booted, "whole_after_start": total}
    )
    members = _members(d, plan, broker=True)
    d.log(f"cluster whole {total}s after the start" if total else "cluster not whole in time")
    d.claim(
        "ha-rejoins",
        whole is not None,
        f"{victim} rejoined: " + "; ".join(f"{m.node} {m.galera_text()}" for m in members),
    )


def power_loss(d: Drill, seconds: float) -> None:
    """Every controller loses power at once for `seconds`; then all start, and
    ``dcn recover`` brings Galera back from the most advanced member (or finds it
    formed again by itself) and reports what it did."""
    plan = _plan(d)
    names = [n.hostname for n in plan.controllers()]
    hosts = _edge_hosts(d)
    pids = d.compute_pids(hosts)
    d.mark("fault", what="power-off", target=", ".join(names))
    for name in names:
        d.lab.node_action(name, "stop")
    d.log(f"powered off {', '.join(names)}")
    time.sleep(min(3.0, seconds))
    api_during = d.api_ok()
    d.attempt("an API call during the loss", "succeeded" if api_during else "failed")
    time.sleep(max(0.0, seconds - 3.0))
    started = time.monotonic()
    d.healed_at = datetime.now(UTC)
    d.mark("heal", what="power-off", target=", ".join(names))
    # all at once, as power comes back: each member waits for its peers
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        states = dict(
            zip(names, pool.map(lambda n: d.lab.node_action(n, "start"), names), strict=True)
        )
    d.log(f"powered on in {round(time.monotonic() - started, 1)}s: {states}")
    conn = connection_for(d.ws)
    recovery = cluster.recover(conn, plan, d.log)
    d.report.figures["recover_seconds"] = round(time.monotonic() - started, 1)
    d.log(f"recover: found {recovery.found}; did: {'; '.join(recovery.actions) or 'nothing'}")
    whole = _wait_whole(d, plan)
    whole_at = None if whole is None else round(time.monotonic() - started, 1)
    api_back = None
    while time.monotonic() - started < WAIT * 2:
        if d.api_ok():
            api_back = round(time.monotonic() - started, 1)
            break
        time.sleep(POLL)
    up = d.wait_reported(hosts, d.healed_at, WAIT)
    restarted = d.restarted(pids)
    d.report.figures.update(
        {
            "off_seconds": seconds,
            "cluster_whole_after_start": whole_at,
            "api_back_after_start": api_back,
            "computes_reported_after": up,
        }
    )
    d.report.params["recovery"] = recovery.as_dict()
    d.claim(
        "cp-no-api",
        api_during is False,
        f"an API call with every controller off: {'failed' if not api_during else 'succeeded'}",
    )
    d.claim(
        "ha-recovered",
        recovery.whole and whole is not None,
        f"{recovery.found}; {'; '.join(recovery.actions) or 'nothing to do'}"
        + "".join(f"; {p.node} at seqno {p.seqno}" for p in recovery.positions),
    )
    d.claim(
        "reconnect",
        up is not None and not restarted,
        f"edge computes reported {up}s after; restarted processes: {restarted or 'none'}",
    )
