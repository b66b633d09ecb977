"""The data plane during a drill: two guests at one site, pinging their site's gateway
and each other through the cut, and metadata measured failing and coming back.

A cut site keeps its own L2 and its leaf router; the seed says such traffic depends
only on the provider network (no SLA from the cloud). Metadata at a site on the
metadata route goes to the control plane's nova metadata API over the WAN, so a cut
takes it away until the link returns. The pings are bounded series started just
before the cut; everything here is cleaned up by `close`.
"""

from __future__ import annotations

import subprocess
import time
from typing import TYPE_CHECKING

from dcn.lab.workload import Workload, ping_command, received, replied
from dcn.workloads import METADATA_URL, attach, metadata_probe

if TYPE_CHECKING:
    from dcn.drill import Drill

#: seconds between pings of a series (a loss of N packets ~ N x this much outage)
PING_INTERVAL = 0.2
METADATA_BACK_WAIT = 120.0


def lost_gaps(sent: int, answered: set[int], start: float, interval: float) -> list[list[float]]:
    """When packets of a series went unanswered, as [from, to] seconds: runs of
    missing sequence numbers, each packet sent `interval` after the one before it
    from `start` (the series' start; close enough for a picture)."""
    gaps: list[list[float]] = []
    for seq in range(sent):
        if seq in answered:
            continue
        at = round(start + seq * interval, 2)
        if gaps and abs(gaps[-1][1] - at) < interval / 2:
            gaps[-1][1] = round(at + interval, 2)
        else:
            gaps.append([at, round(at + interval, 2)])
    return gaps


class DataPlane:
    """Guests at `site` for one drill (none when the site has no workload segment)."""

    def __init__(self, d: Drill, site: str) -> None:
        self.d = d
        self.site = site
        self.guests: list[Workload] = []
        self.gateway: str | None = None
        self.metadata_route = False
        self._pings: dict[str, subprocess.Popen[str]] = {}
        self._pings_at = 0.0

    def setup(self, created: list[str]) -> bool:
        """Boot two servers on the site's segment and give each a guest; False (logged)
        when the site has no segment or a guest gets no address."""
        found = self.d.dep.first_segment(self.site)
        site = self.d.dep.site(self.site)
        if found is None or site is None:
            self.d.log(f"{self.site} has no workload segment: no data plane to measure")
            return False
        network = self.d.conn.network.find_network(found[0].name)
        if network is None:
            self.d.log(f"workload network {found[0].name} is missing: no data plane")
            return False
        self.gateway = found[1].gateway_ip
        self.metadata_route = site.instance_metadata.metadata_route
        for n in (1, 2):
            sid, status, _ = self.d.boot(
                site.az, f"drill-{self.site}-guest{n}", network_id=network.id
            )
            created.append(sid)
            if status != "ACTIVE":
                self.d.log(f"a guest server at {self.site} is {status}: no data plane")
                return False
            workload, lease = attach(self.d.ws, sid, self.d.conn)
            self.guests.append(workload)
            if lease.address != workload.fixed_ip:
                self.d.log(f"guest {n} at {self.site} got {lease.address}, not its port's address")
                return False
        self.d.log(
            f"guests at {self.site}: {self.guests[0].fixed_ip} and {self.guests[1].fixed_ip}"
            f" (gateway {self.gateway})"
        )
        return True

    def start(self, seconds: float) -> None:
        """Start bounded ping series from the first guest: to the gateway, to the other."""
        count = max(1, int(seconds / PING_INTERVAL))
        self._pings_at = self.d.now()
        a, b = self.guests
        for name, target in (("gateway", self.gateway or ""), ("peer", b.fixed_ip)):
            argv = self.d.lab.workload_argv(a, ping_command(target, count, PING_INTERVAL))
            self._pings[name] = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
        self.d.log(f"guest pings started: {count} each to the gateway and the other guest")

    def metadata_ok(self) -> bool:
        return metadata_probe(self.d.lab, self.guests[0]) == "ok"

    def during(self) -> None:
        """Metadata during the cut, where the site uses the metadata route."""
        if not self.metadata_route:
            return
        ok = self.metadata_ok()
        self.d.attempt("guest fetches metadata during the cut", "served" if ok else "failed")
        self.d.report.figures["metadata_during_cut"] = 1.0 if ok else 0.0

    def after(self) -> None:
        """Collect the pings (bounded), then time metadata coming back after the heal."""
        figures = self.d.report.figures
        for name, proc in self._pings.items():
            try:
                out, _ = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            sent, got = received(out)
            figures[f"{name}_pings_sent"] = sent
            figures[f"{name}_pings_lost"] = sent - got if sent else None
            if sent:
                self.d.mark(
                    "packets",
                    t=self._pings_at,
                    end=round(self._pings_at + sent * PING_INTERVAL, 2),
                    target=name,
                    sent=sent,
                    lost=sent - got,
                    gaps=lost_gaps(sent, replied(out), self._pings_at, PING_INTERVAL),
                )
            self.d.log(f"guest pings to the {name}: {sent - got} of {sent} lost")
        if self.metadata_route:
            started = time.monotonic()
            back = None
            while time.monotonic() - started < METADATA_BACK_WAIT:
                if self.metadata_ok():
                    back = round(time.monotonic() - started, 1)
                    break
                time.sleep(1.0)
            figures["metadata_back_after_heal"] = back
            self.d.log(
                f"metadata ({METADATA_URL}) back {back}s after heal"
                if back is not None
                else "metadata not back"
            )

    def claims(self) -> None:
        """The seed's claims this evidence tests."""
        f = self.d.report.figures
        lost = [f.get("gateway_pings_lost"), f.get("peer_pings_lost")]
        if None not in lost:
            self.d.claim(
                "edge-data-plane",
                sum(v or 0 for v in lost) == 0,
                f"site-local pings during the cut: {lost[0]} of {f['gateway_pings_sent']} "
                f"to the gateway and {lost[1]} of {f['peer_pings_sent']} to the other guest lost",
            )
        if self.metadata_route:
            during = f.get("metadata_during_cut")
            back = f.get("metadata_back_after_heal")
            self.d.claim(
                "metadata-route",
                during == 0.0 and back is not None,
                f"metadata at {self.site} (metadata route) during the cut: "
                f"{'served' if during else 'failed'}; back {back}s after heal",
            )

    def close(self) -> None:
        for proc in self._pings.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for workload in self.guests:
            try:
                self.d.lab.detach(workload)
            except Exception:
                self.d.log(f"could not detach the guest of {workload.name}")
