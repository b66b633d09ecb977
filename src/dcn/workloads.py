"""Servers with a guest that answers: lab workloads attached to servers, and the checks
a guest can make (its DHCP lease, its site's gateway, metadata, config drive).

The cloud says where a server's port is bound and what address it holds
(`dcn.cloud.server_port`); the lab plugs a workload into that port on that compute
(`dcn.lab.Lab.attach`). Checks run inside the workload, so they see exactly what a
guest on the workload network sees.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from dcn.cloud import ServerPort, host_sites, server_port
from dcn.errors import DcnError
from dcn.lab import Lab
from dcn.lab.workload import Lease, Workload, names, ping_command, received, run_in_node
from dcn.workspace import Workspace

METADATA_URL = "http://169.254.169.254/openstack/latest/meta_data.json"
PINGS = 3
METADATA_TIMEOUT = 5
#: how long a guest keeps asking for its metadata (cloud-init waits longer)
METADATA_WAIT = 30.0


@dataclass(frozen=True, slots=True)
class GuestReport:
    """What one server's guest found."""

    server: str
    site: str
    host: str
    fixed_ip: str
    #: the address DHCP gave (None: no lease)
    dhcp_ip: str | None
    dhcp_seconds: float
    gateway: str | None
    #: pings answered by the site's gateway, of PINGS
    gateway_replies: int
    #: "ok", "failed: ...", or "n/a" (the site uses config drive)
    metadata: str
    #: the server has a config drive (nova's flag)
    config_drive: bool

    @property
    def ok(self) -> bool:
        return (
            self.dhcp_ip == self.fixed_ip
            and (self.gateway is None or self.gateway_replies > 0)
            and self.metadata in ("ok", "n/a")
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def workload_for(port: ServerPort) -> Workload:
    netns, veth = names(port.port)
    return Workload(
        server=port.server,
        name=port.name,
        node=port.host,
        port=port.port,
        mac=port.mac,
        fixed_ip=port.fixed_ip,
        netns=netns,
        veth=veth,
    )


def attach(ws: Workspace, server: str, conn: Any = None) -> tuple[Workload, Lease]:
    """Give a server a guest in the lab, on the compute its port is bound to."""
    lab = Lab(ws.state_dir, ws.deployment.name)
    port = server_port(ws, server, conn)
    if port.host not in lab.nodes():
        raise DcnError(
            f"server {port.name} runs on {port.host}, which is not a lab node",
            hint="'dcn lab status' lists the lab's nodes",
        )
    workload = workload_for(port)
    return workload, lab.attach(workload)


def check(ws: Workspace, workload: Workload, lease: Lease, conn: Any) -> GuestReport:
    """Gateway, metadata and config drive as the guest of `workload` sees them."""
    lab = Lab(ws.state_dir, ws.deployment.name)
    site = host_sites(ws).get(workload.node, "")
    found = ws.deployment.first_segment(site)
    gateway = found[1].gateway_ip if found else None
    replies = 0
    if gateway and lease.address:
        done = run_in_node(lab.workload_argv(workload, ping_command(gateway, PINGS)))
        replies = received(done.stdout)[1]
    metadata = "n/a"
    spec = ws.deployment.site(site) if site else None
    if spec is not None and spec.instance_metadata.metadata_route:
        metadata = metadata_within(lab, workload) if lease.address else "failed: no address"
    server = conn.compute.get_server(workload.server)
    return GuestReport(
        server=workload.name,
        site=site,
        host=workload.node,
        fixed_ip=workload.fixed_ip,
        dhcp_ip=lease.address,
        dhcp_seconds=lease.seconds,
        gateway=gateway,
        gateway_replies=replies,
        metadata=metadata,
        config_drive=str(server.config_drive).lower() in ("true", "1"),
    )


#: the guest's HTTP client: the node's Python (Debian's busybox wget crashes here)
FETCH = (
    "import sys, urllib.request; "
    "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2]))"
    ".read().decode())"
)


def metadata_within(lab: Lab, workload: Workload, wait: float = METADATA_WAIT) -> str:
    """The metadata probe, retried (bounded) as cloud-init retries it: a server's port
    is bound before the metadata agent has its namespace's haproxy listening, and a
    guest asking at that moment is refused (measured on freshly installed nodes)."""
    deadline = time.monotonic() + wait
    while True:
        found = metadata_probe(lab, workload)
        if found == "ok" or time.monotonic() >= deadline:
            return found
        time.sleep(1.0)


def metadata_probe(lab: Lab, workload: Workload) -> str:
    """Fetch the server's metadata from the guest; it must carry the server's uuid."""
    fetch = ["python3", "-c", FETCH, METADATA_URL, str(METADATA_TIMEOUT)]
    done = run_in_node(lab.workload_argv(workload, fetch), timeout=METADATA_TIMEOUT * 4)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return f"failed: {reason[:80]}"
    if workload.server not in done.stdout:
        return "failed: the document does not name this server"
    return "ok"
