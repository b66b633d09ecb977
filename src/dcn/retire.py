"""Take computes out of the cloud for good (scale-in, decommission), from the operator's
machine with openstacksdk as admin.

nova-compute registers itself again while it runs, so the order matters: disable the
services first (the scheduler stops choosing them), stop the nodes (the caller), then
remove the hosts from their aggregate, delete the compute services (nova deletes their
compute nodes, resource providers and host mappings with them), any resource provider
left behind, and the hosts' network agents (OVN's chassis). Every step finds what is
there and deletes only that, so a retirement that stopped half-way is run again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dcn.errors import DcnError

#: how long deleted servers may take to go (bounded, polled)
SERVER_DELETE_WAIT = 120
DISABLED_REASON = "dcn: being retired"


@dataclass(frozen=True, slots=True)
class ServerOnHost:
    name: str
    id: str
    host: str
    status: str

    def __str__(self) -> str:
        return f"{self.name} ({self.id[:8]}, {self.status}, on {self.host or 'no host'})"


@dataclass(slots=True)
class Retired:
    """What a retirement removed, for the summary and the stack's events."""

    servers: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    providers: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    aggregates: list[str] = field(default_factory=list)
    subnets: list[str] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"{what}: {', '.join(names)}"
            for what, names in (
                ("servers deleted", self.servers),
                ("compute services deleted", self.services),
                ("resource providers deleted", self.providers),
                ("network agents deleted", self.agents),
                ("aggregates deleted", self.aggregates),
                ("subnets deleted", self.subnets),
                ("segments deleted", self.segments),
            )
            if names
        ]


def servers_on(conn: Any, hosts: Iterable[str], az: str | None = None) -> list[ServerOnHost]:
    """Servers (every project) on these hosts, and with `az` also those of the AZ that
    have no host yet (building, or failed to schedule)."""
    wanted = set(hosts)
    found = []
    for s in conn.compute.servers(details=True, all_projects=True):
        host = s.compute_host or ""
        if host in wanted or (az is not None and not host and s.availability_zone == az):
            found.append(ServerOnHost(s.name, s.id, host, s.status))
    return sorted(found, key=lambda s: (s.host, s.name))


def refusal(servers: Sequence[ServerOnHost], what: str, force_hint: str) -> DcnError:
    """The error for servers still running where something is being removed."""
    listed = "; ".join(str(s) for s in servers[:20])
    more = f" and {len(servers) - 20} more" if len(servers) > 20 else ""
    return DcnError(
        f"{len(servers)} servers run on {what}: {listed}{more}",
        hint=f"move or delete them first; or {force_hint} to delete them with it",
    )


def delete_servers(conn: Any, servers: Sequence[ServerOnHost], done: Retired) -> None:
    """Delete the servers and wait (bounded) until nova no longer lists them."""
    for s in servers:
        conn.compute.delete_server(s.id, force=True, ignore_missing=True)
    deadline = time.monotonic() + SERVER_DELETE_WAIT
    left = {s.id for s in servers}
    while left and time.monotonic() < deadline:
        left = {i for i in left if conn.compute.find_server(i, all_projects=True) is not None}
        if left:
            time.sleep(2)
    if left:
        raise DcnError(
            f"{len(left)} servers were not deleted after {SERVER_DELETE_WAIT}s: "
            + ", ".join(sorted(left)),
            hint="see 'openstack server show ID'; then run the same command again",
        )
    done.servers += [s.name for s in servers]


def _compute_services(conn: Any, hosts: Iterable[str]) -> list[Any]:
    wanted = set(hosts)
    return [s for s in conn.compute.services(binary="nova-compute") if s.host in wanted]


def disable_computes(conn: Any, hosts: Sequence[str]) -> None:
    """The scheduler stops choosing these hosts (the first step: nothing new lands)."""
    for service in _compute_services(conn, hosts):
        if service.status != "disabled":
            conn.compute.disable_service(service, service.host, service.binary, DISABLED_REASON)


def forget_computes(conn: Any, hosts: Sequence[str], done: Retired) -> None:
    """Remove stopped hosts from nova (aggregates, services), placement and neutron."""
    for agg in conn.compute.aggregates():
        for host in set(agg.hosts or []) & set(hosts):
            conn.compute.remove_host_from_aggregate(agg, host)
    for service in _compute_services(conn, hosts):
        conn.compute.delete_service(service, ignore_missing=True)
        done.services.append(service.host)
    names = set(hosts)
    for rp in conn.placement.resource_providers():
        if rp.name in names or rp.name.split(".", 1)[0] in names:
            conn.placement.delete_resource_provider(rp, ignore_missing=True)
            done.providers.append(rp.name)
    for agent in conn.network.agents():
        if agent.host in names or str(agent.host).split(".", 1)[0] in names:
            conn.network.delete_agent(agent, ignore_missing=True)
            done.agents.append(f"{agent.agent_type} on {agent.host}")


def delete_zone(conn: Any, az: str, done: Retired) -> None:
    """The site's aggregate, and with it its availability zone (it must be empty)."""
    for agg in conn.compute.aggregates():
        if agg.name == az or agg.availability_zone == az:
            for host in agg.hosts or []:
                conn.compute.remove_host_from_aggregate(agg, host)
            conn.compute.delete_aggregate(agg, ignore_missing=True)
            done.aggregates.append(agg.name)


def delete_segments(conn: Any, physnet: str, done: Retired) -> None:
    """Every segment on the site's physical network and the subnets on them (neutron
    refuses to delete a segment a subnet still uses). Server ports are gone by then."""
    for segment in conn.network.segments(physical_network=physnet):
        for subnet in conn.network.subnets(segment_id=segment.id):
            conn.network.delete_subnet(subnet, ignore_missing=True)
            done.subnets.append(subnet.name or subnet.id)
        conn.network.delete_segment(segment, ignore_missing=True)
        done.segments.append(segment.name or segment.id)
