"""The health gate after each wave: what nova says of the wave's computes, and with
--smoke a server booted in each of the wave's availability zones.

A compute passes when nova lists its service up and enabled and it has reported
since the wave started (its "up" alone may be stale: nova marks a compute down only
after service_down_time). The gate polls until every compute passes or its time is
up (bounded), so a compute restarted by the deploy has time to report again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dcn.errors import DcnError
from dcn.plan.serialize import plan_from_json
from dcn.rollout.run import GateCall
from dcn.workspace import Workspace

#: how long the computes of a wave may take to be up and reporting, and how often asked
GATE_TIMEOUT = 120.0
GATE_INTERVAL = 3.0
#: openstacksdk calls of the gate (one call, not the whole wait)
API_TIMEOUT = 10.0


def _reported_at(value: Any) -> datetime | None:
    """nova's updated_at (ISO, UTC without an offset) as an aware datetime."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def compute_problems(
    expected: Mapping[str, Sequence[str]], services: Iterable[Any], since: datetime
) -> dict[str, str]:
    """site -> what is wrong with its computes (nova's compute services: host, state,
    status, updated_at); sites whose computes are all well are left out."""
    by_host = {s.host: s for s in services}
    problems = {}
    for site, hosts in expected.items():
        bad = []
        for host in hosts:
            service = by_host.get(host)
            reported = _reported_at(service.updated_at) if service is not None else None
            if service is None:
                bad.append(f"{host} not registered")
            elif service.state != "up":
                bad.append(f"{host} {service.state}")
            elif service.status != "enabled":
                bad.append(f"{host} {service.status}")
            elif reported is None or reported < since:
                bad.append(f"{host} has not reported since the wave started")
        if bad:
            problems[site] = "computes: " + ", ".join(bad)
    return problems


def poll(
    check: Callable[[], dict[str, str]],
    timeout: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, str]:
    """Ask `check` until it finds nothing wrong or `timeout` has passed; what it found
    last (empty: all well)."""
    deadline = clock() + timeout
    while True:
        problems = check()
        if not problems or clock() + interval > deadline:
            return problems
        sleep(interval)


class HealthGate:
    """The gate `dcn rollout` passes to `execute`: computes from nova, optional smoke."""

    def __init__(
        self,
        ws: Workspace,
        *,
        smoke: bool = False,
        server_prefix: str = "dcn-rollout",
        timeout: float = GATE_TIMEOUT,
        interval: float = GATE_INTERVAL,
    ) -> None:
        self.ws = ws
        self.smoke = smoke
        #: smoke servers are named PREFIX-AZ: never dcn smoke's own servers
        self.server_prefix = server_prefix
        self.timeout = timeout
        self.interval = interval

    def _plans(self, sites: Sequence[str]) -> dict[str, Any]:
        dep = self.ws.deployment.name
        found = {}
        for site in sites:
            record = self.ws.store.latest_generation(dep, site)
            if record is not None:
                found[site] = plan_from_json(record.plan_json())
        return found

    def __call__(self, call: GateCall) -> dict[str, str]:
        from dcn.cloud import admin_connection

        plans = self._plans(call.sites)
        expected = {
            site: [n.hostname for n in plan.nodes if "nova_compute" in n.services]
            for site, plan in plans.items()
        }
        conn = admin_connection(self.ws, timeout=API_TIMEOUT)

        def computes() -> dict[str, str]:
            try:
                services = list(conn.compute.services(binary="nova-compute"))
            except Exception as exc:  # the API failing is a finding, not a crash
                return {s: f"the compute API failed ({type(exc).__name__})" for s in expected}
            return compute_problems(expected, services, call.since)

        problems = poll(computes, self.timeout, self.interval)
        if problems:
            return {s: f"{p} (after {self.timeout:.0f}s)" for s, p in problems.items()}
        if self.smoke:
            hosts = {site: {n.hostname for n in plan.nodes} for site, plan in plans.items()}
            return self._smoke(conn, hosts)
        return {}

    # -- a server per availability zone ------------------------------------------------

    def _smoke(self, conn: Any, hosts: Mapping[str, set[str]]) -> dict[str, str]:
        """Boot one server in each site's AZ, wait for ACTIVE on one of the site's
        hosts, delete them all (also when one failed)."""
        from dcn.cloud import ACTIVE_WAIT, ensure_image_and_flavor

        problems: dict[str, str] = {}
        booted: dict[str, Any] = {}
        try:
            image, flavor = ensure_image_and_flavor(conn)
            for site in hosts:
                try:
                    booted[site] = self._boot(conn, site, image, flavor)
                except DcnError as exc:
                    problems[site] = exc.message
                except Exception as exc:
                    problems[site] = f"smoke server refused ({type(exc).__name__})"
            for site, server in booted.items():
                problems.update(_active(conn, site, server, hosts[site], ACTIVE_WAIT))
        except Exception as exc:  # image or flavor: every site's smoke fails alike
            why = f"smoke: the cloud's API failed ({type(exc).__name__})"
            problems.update({s: why for s in hosts if s not in problems})
        finally:
            for site, server in booted.items():
                try:
                    conn.compute.delete_server(server, ignore_missing=True)
                    conn.compute.wait_for_delete(server, wait=ACTIVE_WAIT)
                except Exception as exc:
                    problems.setdefault(
                        site, f"smoke server {server.name} not deleted ({type(exc).__name__})"
                    )
        return problems

    def _boot(self, conn: Any, site: str, image: Any, flavor: Any) -> Any:
        from dcn.cloud import ACTIVE_WAIT, zone_network

        found = self.ws.deployment.site(site)
        if found is None:
            raise DcnError(f"no site named {site}")
        az = found.az
        name = f"{self.server_prefix}-{az}"
        net_name = zone_network(self.ws, az)
        network = conn.network.find_network(net_name) if net_name else None
        if net_name and network is None:
            raise DcnError(f"smoke: workload network {net_name} does not exist in the cloud")
        old = conn.compute.find_server(name)
        if old is not None:  # left by a killed earlier attempt
            conn.compute.delete_server(old)
            conn.compute.wait_for_delete(old, wait=ACTIVE_WAIT)
        return conn.compute.create_server(
            name=name,
            image_id=image.id,
            flavor_id=flavor.id,
            networks=[{"uuid": network.id}] if network else "none",
            availability_zone=az,
        )


def _active(conn: Any, site: str, server: Any, hosts: set[str], wait: float) -> dict[str, str]:
    """The site's problem when its smoke server is not ACTIVE on one of its hosts."""
    try:
        server = conn.compute.wait_for_server(server, status="ACTIVE", wait=wait)
    except Exception as exc:  # openstacksdk raises ResourceFailure or ResourceTimeout
        try:
            server = conn.compute.get_server(server.id)
            fault = (server.fault or {}).get("message") or type(exc).__name__
            return {site: f"smoke server {server.name} {server.status}: {fault}"}
        except Exception:
            return {site: f"smoke server {server.name} not ACTIVE ({type(exc).__name__})"}
    host = server.compute_host or server.hypervisor_hostname or "?"
    if host not in hosts:
        return {site: f"smoke server {server.name} runs on {host}, not on a host of {site}"}
    return {}
