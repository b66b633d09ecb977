"""haproxy (Debian package): every API and the database behind the control plane's
VIPs, on every controller of a clustered control plane (`Site.clustered`).

The frontends are the EndpointMap's entries whose host is a VIP of this site (the
Internal, Admin and Public URLs keystone's catalog gives clients); each service's
backends are the nodes that run it, on their own addresses (where the services
listen: `dcn.services.common.on_node`). Binds are ``transparent``: a node that does
not hold the VIPs (keepalived moves them) binds them all the same, and serves them
the moment they arrive.

MariaDB gets one active backend and the others as backups, sticky, so that writes go
to one Galera node at a time (no certification conflicts between writers); a backend
marked down has its sessions cut, so clients reconnect to the next at once. A member is
up when its check server says it is Synced in the Primary component (`dcn.services.
mariadb`, ``galera-check``), not merely when its port answers.
"""

from __future__ import annotations

from dcn.plan.types import FileSpec, ProcessSpec
from dcn.services.base import CatalogService, Endpoint, RenderContext
from dcn.services.common import api_port, cluster_ips
from dcn.services.mariadb import CHECK_PORT
from dcn.services.render import file_spec, url_host

UNIT = "haproxy.service"
CONFIG = "/etc/haproxy/haproxy.cfg"
#: the database's TripleO endpoint name: one active backend
DATABASE = "Mysql"
HEADER = """\
# managed by dcn: the control plane's APIs and database behind its VIPs
global
    maxconn 8192
    user haproxy
    group haproxy

defaults
    mode tcp
    option tcplog
    timeout connect 5s
    timeout client 2m
    timeout server 2m
    timeout check 2s
    default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
"""


def _binds(ctx: RenderContext, endpoint: Endpoint) -> list[str]:
    """``VIP:port`` of every EndpointMap entry of the endpoint whose host is a VIP here."""
    vips = set(ctx.network.vips.values())
    binds = []
    for interface in endpoint.interfaces:
        entry = ctx.outputs.endpoint_map.get(f"{endpoint.name}{interface}") or {}
        host = entry.get("host_nobrackets")
        if host in vips:
            binds.append(f"{url_host(host)}:{entry.get('port') or endpoint.port}")
    return list(dict.fromkeys(binds))


def _listen(ctx: RenderContext, endpoint: Endpoint, taken: set[str]) -> list[str]:
    """A ``listen`` section for the endpoint's binds not taken by an earlier one (two
    EndpointMap rows may name the same VIP and port: Keystone and KeystoneV3)."""
    binds = [b for b in _binds(ctx, endpoint) if b not in taken]
    taken.update(binds)
    members = cluster_ips(ctx, endpoint.service)
    if not binds or not members:
        return []
    port = api_port(ctx, endpoint.internal, endpoint.port)
    database = endpoint.name == DATABASE
    lines = [f"listen {endpoint.name.lower()}"]
    lines += [f"    bind {bind} transparent" for bind in binds]
    if database:
        lines += [
            "    option tcpka",
            "    timeout client 90m",
            "    timeout server 90m",
            "    stick-table type ip size 1000",
            "    stick on dst",
            "    option httpchk GET /",
            "    http-check expect status 200",
        ]
    else:
        lines.append("    balance roundrobin")
    for index, ip in enumerate(members):
        check = f" port {CHECK_PORT} inter 2s" if database else ""
        backup = " backup" if database and index else ""
        server = f"{endpoint.service}-{index} {url_host(ip)}:{port}"
        lines.append(f"    server {server} check{check}{backup}")
    return lines


def haproxy_cfg(ctx: RenderContext) -> FileSpec:
    # the catalog imports this module to find it: ask it for the endpoints when rendering
    from dcn.services.catalog import ENDPOINTS

    sections = [HEADER]
    taken: set[str] = set()
    for endpoint in ENDPOINTS:
        lines = _listen(ctx, endpoint, taken)
        if lines:
            sections.append("\n".join(lines) + "\n")
    return file_spec("\n".join(sections))


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    return {CONFIG: haproxy_cfg(ctx)}


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (ProcessSpec(name="haproxy", packaged_unit=UNIT, env={"CONFIG": CONFIG}),)


SERVICE = CatalogService(
    name="haproxy",
    render_files=files,
    render_processes=processes,
    packages=("haproxy",),
    packaged_units=(UNIT,),
    runs_at=lambda site: site.clustered,
    needs=(),
)
