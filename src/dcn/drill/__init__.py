"""Failure drills on the lab: inject a fault, act during it, measure the recovery, and
judge the seed's claims against what really happened.

Every drill keeps a timeline (seconds since it started), the operations attempted and
their outcomes, the figures (how long until detection and recovery), and a verdict on
each claim of the seed it tests, with the evidence. Reports go to the state store.
Every wait is bounded; a drill always heals what it broke, even when it fails.

Alongside the text, a drill records `marks` where it acts and observes, so a picture
(`dcn.pictures.timeline`) is drawn without parsing sentences. Each mark is
``{"t": seconds, "kind": KIND, ...}``:

- ``fault`` / ``heal``: ``what`` (cut, power-off, service-stop, service-kill) and
  ``target`` (the site or node), ``service`` for a service; a heal matches the fault
  with the same what and target (a killed service has none: systemd restarts it);
- ``compute``: ``host`` and ``state`` (up/down) of a nova-compute service as polled
  (a sample when it changes, else at most one per `SAMPLE_EVERY` seconds per host);
- ``probe``: an API call, ``ok`` and ``latency`` (seconds);
- ``attempt``: ``action``, ``outcome``, ``detail`` and ``ok``;
- ``boot``: a server create from ``t`` to ``end``, ``az``, ``status``;
- ``packets``: a guest's ping series to ``target`` from ``t`` to ``end``, ``sent``,
  ``lost`` and the ``gaps`` ([from, to] seconds) where replies were missing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from dcn.cloud import admin_connection, ensure_image_and_flavor
from dcn.errors import DcnError
from dcn.lab import Lab, faults
from dcn.redact import redact
from dcn.workspace import Workspace

POLL = 1.0
RECOVERY_WAIT = 300.0
BOOT_WAIT = 120.0
#: a compute host's state is recorded when it changes, else at most this often
SAMPLE_EVERY = 2.0
#: outcomes of an attempt that mean it worked
OK_OUTCOMES = frozenset({"ACTIVE", "SHUTOFF", "accepted", "succeeded", "served"})

#: the seed's claims, quoted (shared/seed/distributed_compute_node.txt)
CLAIMS = {
    "edge-keeps-running": "Loss of an edge site: running Nova VM instances will keep running.",
    "edge-isolated": "A single Compute service failure normally affects only its edge site "
    "without additional downtime induced for neighbor edge sites or the central control plane.",
    "reconnect": "Nova Compute will automatically reconnect to MariaDB and RabbitMQ when the "
    "control plane's uplink is back.",
    "not-resumed": "No timed out operations can be resumed though and need to be retried manually.",
    "cp-no-api": "A failure of the central control plane affects all DCN edge sites: no "
    "control plane API or CLI operations can be executed.",
    "threshold": "Outage thresholds are typically considered to be 15 seconds.",
    "edge-data-plane": "When there is a network failure that disconnects the edge off the "
    "central site, there is no SLA for recovery time but only what the provider networks "
    "or a particular SDN choice can guarantee.",
    # dcn's own, for a clustered control plane (not the seed's)
    "ha-survives": "dcn: losing one controller of three, Galera and RabbitMQ go on with "
    "two, the VIPs move, and servers still boot at the edge.",
    "ha-rejoins": "dcn: a controller that comes back rejoins Galera (IST), RabbitMQ and "
    "the VIPs' group by itself.",
    "ha-recovered": "dcn: after every controller lost power, 'dcn recover' brings Galera "
    "back from the most advanced member.",
    "metadata-route": "Otherwise, the latter [cloud-init] requires a route for the provider "
    "routers to forward data to the metadata service.",
}

Say = Callable[[str], None]


@dataclass(slots=True)
class Report:
    scenario: str
    params: dict[str, Any]
    settings: dict[str, Any]
    started: str
    timeline: list[tuple[float, str]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, float | None] = field(default_factory=dict)
    claims: list[dict[str, Any]] = field(default_factory=list)
    #: what happened when, for pictures (see the module's docstring)
    marks: list[dict[str, Any]] = field(default_factory=list)
    #: every claim the drill tested held (a claim of the seed not holding is a finding
    #: about the seed, reported, not an error of the drill)
    ok: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def figure_text(name: str, value: float | None) -> str:
    """A figure with its unit: packet counts and yes/no flags are not seconds (shown the
    same by `dcn drill show` and the web view)."""
    if value is None:
        return "-"
    if name.endswith(("_sent", "_lost")):
        return f"{value:.0f} packets"
    if name == "metadata_during_cut":
        return "served" if value else "failed"
    if name.endswith(("_probes", "_writes", "_failed", "_during")) or name == "db_writes":
        return f"{value:.0f}"
    return f"{value:.1f} s"


def compare_rows(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Two reports side by side, as `dcn drill compare` and the web view show them: the
    scenario, parameters, settings, figures with their units, and each claim held or
    not (a part an older report lacks shows as "-")."""

    def part(report: dict[str, Any], name: str) -> dict[str, Any]:
        return report.get(name) or {}

    def held(value: bool | None) -> str:
        return "-" if value is None else "held" if value else "not held"

    rows = [
        ("scenario", str(a.get("scenario")), str(b.get("scenario"))),
        ("params", str(part(a, "params")), str(part(b, "params"))),
    ]
    x, y = part(a, "settings"), part(b, "settings")
    rows += [(k, str(x.get(k, "-")), str(y.get(k, "-"))) for k in sorted({*x, *y})]
    x, y = part(a, "figures"), part(b, "figures")
    rows += [(k, figure_text(k, x.get(k)), figure_text(k, y.get(k))) for k in sorted({*x, *y})]
    claims_a = {c.get("claim"): c.get("held") for c in a.get("claims") or []}
    claims_b = {c.get("claim"): c.get("held") for c in b.get("claims") or []}
    for key in sorted({*claims_a, *claims_b}, key=str):
        rows.append((f"claim {key}", held(claims_a.get(key)), held(claims_b.get(key))))
    return rows


class Recorder:
    """The report as a drill writes it: the clock, the timeline, the attempts, the
    claims and the marks. Apart from `Drill` so it is exercised without a cloud."""

    def __init__(self, report: Report, say: Say) -> None:
        self.report = report
        self.say = say
        self.t0 = time.monotonic()
        self._sampled: dict[str, tuple[float, str]] = {}
        self._marking = threading.Lock()

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 1)

    def log(self, text: str) -> None:
        self.report.timeline.append((self.now(), text))
        self.say(f"{self.now():7.1f}s  {text}")

    def mark(self, kind: str, t: float | None = None, **fields: Any) -> None:
        """Record what happened at `t` (default: now) for the picture; texts are
        redacted like everything else in a report. Safe from probe threads."""
        clean = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
        with self._marking:
            self.report.marks.append({"t": self.now() if t is None else t, "kind": kind, **clean})

    def attempt(self, action: str, outcome: str, detail: str = "") -> None:
        self.report.attempts.append(
            {"t": self.now(), "action": action, "outcome": outcome, "detail": detail}
        )
        self.mark(
            "attempt", action=action, outcome=outcome, detail=detail, ok=outcome in OK_OUTCOMES
        )
        self.log(f"{action}: {outcome}{' (' + detail + ')' if detail else ''}")

    def claim(self, key: str, held: bool | None, evidence: str) -> None:
        self.report.claims.append(
            {"claim": key, "text": CLAIMS[key], "held": held, "evidence": evidence}
        )

    def sample(self, states: dict[str, str]) -> None:
        """Compute services' states as just polled: a mark per host when its state
        changed, else at most every `SAMPLE_EVERY` s (a 0.5 s poll loop for minutes
        would otherwise fill the report)."""
        t = self.now()
        for host, state in sorted(states.items()):
            last = self._sampled.get(host)
            if last is None or last[1] != state or t - last[0] >= SAMPLE_EVERY:
                self._sampled[host] = (t, state)
                self.mark("compute", t=t, host=host, state=state)


class Drill(Recorder):
    """What every scenario uses: the record, the cloud and the lab."""

    def __init__(self, ws: Workspace, scenario: str, params: dict[str, Any], say: Say) -> None:
        self.ws = ws
        self.dep = ws.deployment
        self.lab = Lab(ws.state_dir, self.dep.name)
        if self.lab.manifest() is None:
            raise DcnError("drills run on the lab, and no lab is up", hint="run 'dcn lab up'")
        super().__init__(
            Report(
                scenario=scenario,
                params=params,
                settings=dict(self.dep.liveness.model_dump()),
                started=datetime.now(UTC).isoformat(timespec="seconds"),
            ),
            say,
        )
        self.healed_at = datetime.now(UTC)
        self.conn = admin_connection(ws, timeout=5)
        self.plans = ws.recorded_plans()

    # -- the cloud -----------------------------------------------------------------

    def hosts(self, site: str) -> list[str]:
        return [n.hostname for n in self.plans[site].nodes if "nova_compute" in n.services]

    def compute_services(self) -> dict[str, Any] | None:
        """Every nova-compute service by host (None: the API did not answer); each
        host's state is sampled into the marks."""
        try:
            services = {s.host: s for s in self.conn.compute.services(binary="nova-compute")}
        except Exception:
            return None
        self.sample({h: str(s.state) for h, s in services.items()})
        return services

    def compute_states(self) -> dict[str, str] | None:
        services = self.compute_services()
        return None if services is None else {h: s.state for h, s in services.items()}

    def wait_reported(self, hosts: list[str], since: datetime, limit: float) -> float | None:
        """Seconds until every host's compute service reported after `since` and is up:
        the proof it reconnected (its "up" may be stale: nova marks down only after
        service_down_time)."""
        started = time.monotonic()
        mark = since.replace(tzinfo=None).isoformat()
        while time.monotonic() - started < limit:
            services = self.compute_services() or {}
            if all(
                h in services
                and services[h].state == "up"
                and str(services[h].updated_at or "") > mark
                for h in hosts
            ):
                return round(time.monotonic() - started, 1)
            time.sleep(POLL / 2)
        return None

    def wait_computes(self, hosts: list[str], state: str, limit: float) -> float | None:
        """Seconds until every host's compute service is `state` (None: not in time)."""
        started = time.monotonic()
        while time.monotonic() - started < limit:
            states = self.compute_states() or {}
            if all(states.get(h) == state for h in hosts):
                return round(time.monotonic() - started, 1)
            time.sleep(POLL)
        return None

    def api_ok(self) -> bool:
        """One API call (nova's flavors), recorded as a probe."""
        t, began = self.now(), time.monotonic()
        try:
            next(iter(self.conn.compute.flavors()), None)
            ok = True
        except Exception:
            ok = False
        self.mark("probe", t=t, ok=ok, latency=round(time.monotonic() - began, 3))
        return ok

    def boot(
        self,
        az: str,
        name: str,
        wait: float = BOOT_WAIT,
        network_id: str | None = None,
        conn: Any = None,
    ) -> tuple[str, str, float | None]:
        """Create a server in `az` (with a port on `network_id`, else none); (id, final
        status, seconds to ACTIVE). `conn`: a connection of the caller's (its own
        timeout) for the create; else the drill's."""
        started, t = time.monotonic(), self.now()
        conn = conn or self.conn
        try:
            image, flavor = ensure_image_and_flavor(conn)
            server = conn.compute.create_server(
                name=name,
                image_id=image.id,
                flavor_id=flavor.id,
                networks=[{"uuid": network_id}] if network_id else "none",
                availability_zone=az,
            )
        except Exception as exc:
            self.log(f"create {name} failed: {redact(str(exc))[:300]}")
            self.mark("boot", t=t, end=self.now(), az=az, name=name, status="refused")
            return "", f"refused: {type(exc).__name__}", None
        status = self.server_status(server.id)
        while status not in ("ACTIVE", "ERROR") and time.monotonic() - started < wait:
            time.sleep(POLL)
            status = self.server_status(server.id)
        took = round(time.monotonic() - started, 1) if status == "ACTIVE" else None
        self.mark("boot", t=t, end=self.now(), az=az, name=name, status=status or "unknown")
        return server.id, status or "unknown", took

    def fault(self, server_id: str) -> str:
        """A failed server's fault message (what nova says went wrong)."""
        try:
            fault = self.conn.compute.get_server(server_id).fault or {}
        except Exception:
            return ""
        return str(fault.get("message", ""))[:200]

    def server_status(self, server_id: str) -> str | None:
        try:
            return self.conn.compute.get_server(server_id).status
        except Exception:
            return None

    def cleanup(self, server_ids: list[str]) -> None:
        for sid in server_ids:
            if sid:
                try:
                    self.conn.compute.delete_server(sid, ignore_missing=True)
                except Exception:
                    self.log(f"could not delete server {sid}")

    def compute_pids(self, hosts: list[str]) -> dict[str, int | None]:
        return {
            h: (faults.units_status(self.lab, h).get("nova-compute") or {}).get("pid")
            for h in hosts
        }

    def restarted(self, pids: dict[str, int | None]) -> list[str]:
        """The hosts whose nova-compute is not the process of `pids` (`compute_pids`
        taken earlier): restarted, rather than reconnected."""
        return [h for h, p in self.compute_pids(list(pids)).items() if p != pids.get(h)]

    @contextmanager
    def cut(self, site: str) -> Iterator[None]:
        faults.set_uplink(self.lab, site, up=False)
        self.mark("fault", what="cut", target=site)
        self.log(f"cut {site}'s uplink")
        try:
            yield
        finally:
            faults.set_uplink(self.lab, site, up=True)
            self.healed_at = datetime.now(UTC)
            self.mark("heal", what="cut", target=site)
            self.log(f"healed {site}'s uplink")

    def finish(self) -> Report:
        self.report.ok = all(c["held"] is not False for c in self.report.claims)
        return self.report
