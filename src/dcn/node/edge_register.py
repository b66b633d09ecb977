"""Register an edge site's computes in the control plane (runs on a controller).

Waits until every named host's nova-compute service is up (bounded), sees every host
mapped into the cell (by nova-scheduler's periodic discovery, or else ``nova-manage
cell_v2 discover_hosts``), waits for every host's resource provider in placement, and
puts every host into the site's aggregate, whose availability zone is the site's, and
its provider into the aggregate's twin in placement. Prints ``changed`` when it
changed something, so a re-run reports no change. Uses the node's OpenStack venv.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import openstack  # the node's OpenStack virtualenv


def wait_up(conn, hosts: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        states = {
            s.host: s.state for s in conn.compute.services(binary="nova-compute") if s.host in hosts
        }
        missing = [h for h in hosts if states.get(h) != "up"]
        if not missing:
            return
        if time.monotonic() > deadline:
            sys.exit(f"compute services not up after {timeout:.0f}s: {', '.join(missing)}")
        time.sleep(2)


#: nova-manage's exit status when a concurrent discover_hosts mapped a host first
#: ("should not be run in parallel"): edges register in parallel, so it is retried
_COLLIDED = 2
_ATTEMPTS = 5


def unmapped(conn, hosts: list[str]) -> list[str]:
    """The hosts nova has not mapped into a cell: os-hosts (before microversion 2.43)
    answers 404 "not mapped to any cell" for them."""
    return [
        host
        for host in hosts
        if conn.compute.get(f"/os-hosts/{host}", microversion="2.42").status_code == 404
    ]


def mapped(conn, hosts: list[str], nova_manage: str, wait: float) -> bool:
    """Every host mapped into the cell: by nova-scheduler's own periodic discovery when
    it does so within `wait` seconds, else by ``nova-manage``. True if any was not."""
    todo = unmapped(conn, hosts)
    if not todo:
        return False
    deadline = time.monotonic() + wait
    while todo and time.monotonic() < deadline:
        time.sleep(1)
        todo = unmapped(conn, todo)
    if todo:
        discover(nova_manage)
    return True


def discover(nova_manage: str) -> bool:
    command = [nova_manage, "cell_v2", "discover_hosts", "--by-service", "--verbose"]
    for attempt in range(1, _ATTEMPTS + 1):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != _COLLIDED:
            break
        time.sleep(attempt)  # the other run finishes its mappings; then ours finds them
    done.check_returncode()
    return "Creating host mapping" in done.stdout


def wait_providers(conn, hosts: list[str], timeout: float) -> dict:
    """Each host's resource provider, once placement has it. nova-compute creates it at
    its first resource update, a moment after its service is up; nova-api mirrors a
    host's aggregate membership into placement only for a provider that exists (else
    it logs "Failed to associate ... with a placement aggregate" and goes on), and the
    AZ's requests then find no allocation candidates: "No valid host" (lab, a fresh
    three-controller deploy)."""
    deadline = time.monotonic() + timeout
    while True:
        providers = {h: next(iter(conn.placement.resource_providers(name=h)), None) for h in hosts}
        missing = [h for h, rp in providers.items() if rp is None]
        if not missing:
            return providers
        if time.monotonic() > deadline:
            sys.exit(
                f"no resource provider in placement after {timeout:.0f}s: {', '.join(missing)}"
            )
        time.sleep(1)


def placement_members(conn, az: str, providers: dict) -> bool:
    """Every provider in the aggregate's twin in placement (the same uuid): what nova's
    AZ filter asks placement for. Repairs a registration that raced its provider. The
    aggregate is listed again: only the listing's microversion carries its uuid (the
    answer to adding a host is microversion 2.1, without one)."""
    uuid = next(a.uuid for a in conn.compute.aggregates() if a.name == az)
    if not uuid:
        sys.exit(f"nova gave aggregate {az} no uuid: cannot check it in placement")
    changed = False
    for provider in providers.values():
        current = list(conn.placement.get_resource_provider_aggregates(provider).aggregates or [])
        if uuid not in current:
            conn.placement.set_resource_provider_aggregates(provider, *current, uuid)
            changed = True
    return changed


def aggregate(conn, az: str, hosts: list[str]) -> bool:
    """The site's aggregate (its AZ) holding every host, and whether that changed."""
    changed = False
    agg = next((a for a in conn.compute.aggregates() if a.name == az), None)
    if agg is None:
        agg = conn.compute.create_aggregate(name=az, availability_zone=az)
        changed = True
    elif agg.availability_zone != az:
        agg = conn.compute.update_aggregate(agg, availability_zone=az)
        changed = True
    for host in hosts:
        if host not in (agg.hosts or []):
            agg = conn.compute.add_host_to_aggregate(agg, host)
            changed = True
    return changed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cloud", required=True)
    parser.add_argument("--az", required=True)
    parser.add_argument("--nova-manage", required=True)
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument(
        "--discovery-wait",
        type=float,
        default=10,
        help="seconds to wait for nova-scheduler to map new hosts before nova-manage does",
    )
    parser.add_argument(
        "--stamp",
        nargs=2,
        metavar=("PATH", "TEXT"),
        help="removed first, written (0600) once registered: the deploy's applied stamp",
    )
    parser.add_argument("hosts", nargs="+")
    args = parser.parse_args()
    stamp = Path(args.stamp[0]) if args.stamp and args.stamp[0] else None
    if stamp is not None:
        stamp.unlink(missing_ok=True)
    conn = openstack.connect(cloud=args.cloud)
    wait_up(conn, args.hosts, args.timeout)
    # nova adds an unmapped host to an aggregate all the same (it finds the service in
    # the cells): membership says nothing of the mapping, which is asked of its own
    changed = mapped(conn, args.hosts, args.nova_manage, args.discovery_wait)
    providers = wait_providers(conn, args.hosts, args.timeout)
    changed = aggregate(conn, args.az, args.hosts) or changed
    changed = placement_members(conn, args.az, providers) or changed
    if stamp is not None:
        stamp.touch(mode=0o600)
        stamp.write_text(args.stamp[1])
    print("changed" if changed else "unchanged")


if __name__ == "__main__":
    main()
