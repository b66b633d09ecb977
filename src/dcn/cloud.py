"""Talk to the deployed cloud from the operator's machine (openstacksdk, admin).

The admin credentials come from the state store and the keystone URL from the control
plane's recorded outputs; nothing is written to disk here (`dcn credentials` writes a
clouds.yaml or openrc for the operator's own tools: `dcn.credentials`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dcn.errors import DcnError
from dcn.plan.serialize import plan_from_json
from dcn.state.records import GenerationStatus
from dcn.workspace import Workspace

SMOKE_IMAGE = "dcn-smoke"
SMOKE_FLAVOR = "dcn.tiny"
#: ``networks: none`` needs compute API microversion 2.37 or later
COMPUTE_MICROVERSION = "2.79"
ACTIVE_WAIT = 180


@contextmanager
def api_errors(doing: str) -> Iterator[None]:
    """The cloud's API failing is a finding for the operator, not a crash of dcn."""
    from keystoneauth1.exceptions import ClientException
    from openstack.exceptions import SDKException

    try:
        yield
    except (SDKException, ClientException) as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        what = type(exc).__name__ + (f": {detail}" if detail else "")
        raise DcnError(
            f"{doing}: the cloud's API failed ({what})",
            hint="'dcn health' shows which endpoints answer from where; 'dcn status' the sites",
        ) from None


#: the keystone interfaces an operator's tools may use (EndpointMap suffix by name)
INTERFACES = {"internal": "Internal", "public": "Public"}


@dataclass(frozen=True, slots=True)
class AdminCredentials:
    """The cloud's admin login: keystone's URL (no version) on `interface`, password, region."""

    auth_url: str
    password: str = field(repr=False)
    region: str
    username: str = "admin"
    project: str = "admin"
    domain: str = "Default"
    #: the catalog interface the URL is from, and the one clients should use
    interface: str = "internal"


def admin_credentials(ws: Workspace) -> AdminCredentials:
    """From the state store and the control plane's recorded outputs (never a file), for
    dcn's own calls: internal endpoints, and only where the deployment's hosts are."""
    from dcn.hosts import connection_for

    connection_for(ws)  # the lab is up, or real hosts are meant: never a lab address outside
    return recorded_credentials(ws)


def recorded_credentials(ws: Workspace, interface: str = "internal") -> AdminCredentials:
    """The admin login on keystone's `interface` endpoint, from the state store and the
    control plane's deployed generation; reaches no host (`dcn credentials` writes it)."""
    cp = ws.deployment.control_plane
    record = ws.store.latest_generation(ws.deployment.name, cp.name) if cp else None
    if record is None or record.status != GenerationStatus.DEPLOYED:
        name = cp.name if cp else "the control plane"
        raise DcnError(
            f"the control plane {name} is not deployed"
            + (f" (generation {record.number} is {record.status})" if record else ""),
            hint=f"run 'dcn deploy {name}'",
        )
    outputs = plan_from_json(record.plan_json()).outputs
    assert outputs is not None
    key = f"Keystone{INTERFACES[interface]}"
    entry = outputs.endpoint_map.get(key) or {}
    auth_url = entry.get("uri_no_suffix")
    if not auth_url:
        raise DcnError(
            f"the control plane's outputs have no {key} endpoint",
            hint=f"re-plan and deploy the control plane: 'dcn deploy {record.stack}'",
        )
    password = ws.store.get_secrets(ws.deployment.name).get("AdminPassword")
    if not password:
        raise DcnError("no AdminPassword in the state store", hint="run 'dcn deploy' first")
    return AdminCredentials(
        auth_url=auth_url,
        password=password,
        region=str(outputs.global_config.get("keystone_region") or "regionOne"),
        interface=interface,
    )


def connect(creds: AdminCredentials, timeout: float | None = None) -> Any:
    """An openstacksdk connection as admin, through the credentials' interface (dcn's own
    calls: internal)."""
    import openstack  # slow to import; only commands that talk to the cloud need it

    return openstack.connect(
        auth_url=creds.auth_url,
        username=creds.username,
        password=creds.password,
        project_name=creds.project,
        user_domain_name=creds.domain,
        project_domain_name=creds.domain,
        region_name=creds.region,
        interface=creds.interface,
        identity_interface=creds.interface,
        compute_api_version=COMPUTE_MICROVERSION,
        load_yaml_config=False,
        load_envvars=False,
        # bounded calls for health checks and drills (None: the library's default)
        api_timeout=timeout,
    )


def admin_connection(ws: Workspace, timeout: float | None = None) -> Any:
    return connect(admin_credentials(ws), timeout)


@dataclass(frozen=True, slots=True)
class ServerPlace:
    name: str
    status: str
    az: str
    host: str
    site: str
    #: the server has a port (booted on a workload network)
    networked: bool = False


def host_sites(ws: Workspace) -> dict[str, str]:
    """Compute host name -> site, from the recorded plans."""
    return {
        node.hostname: name for name, plan in ws.recorded_plans().items() for node in plan.nodes
    }


def ensure_image_and_flavor(conn: Any) -> tuple[Any, Any]:
    image = conn.image.find_image(SMOKE_IMAGE)
    if image is None:
        # the fake virt driver never reads it; nova only needs its metadata
        image = conn.image.create_image(
            name=SMOKE_IMAGE,
            disk_format="raw",
            container_format="bare",
            visibility="public",
            data=io.BytesIO(b"\0" * 4096),
        )
    flavor = conn.compute.find_flavor(SMOKE_FLAVOR)
    if flavor is None:
        flavor = conn.compute.create_flavor(name=SMOKE_FLAVOR, ram=64, vcpus=1, disk=0)
    return image, flavor


def boot_in_zones(ws: Workspace, zones: list[str]) -> list[ServerPlace]:
    """Boot (or find) one server per availability zone and wait for each to be ACTIVE."""
    with api_errors("booting the smoke servers"):
        return _boot_in_zones(ws, zones)


def zone_network(ws: Workspace, az: str) -> str | None:
    """The workload network a server in this zone boots on: the first provider network
    with a segment at the zone's site (None: the site has none; the server gets no
    port)."""
    sites = [s.name for s in ws.deployment.edges if s.az == az]
    found = ws.deployment.first_segment(sites[0]) if sites else None
    return found[0].name if found else None


def _boot_in_zones(ws: Workspace, zones: list[str]) -> list[ServerPlace]:
    conn = admin_connection(ws)
    image, flavor = ensure_image_and_flavor(conn)
    servers = []
    for az in zones:
        net_name = zone_network(ws, az)
        network = conn.network.find_network(net_name) if net_name else None
        if net_name and network is None:
            raise DcnError(
                f"workload network {net_name} does not exist in the cloud",
                hint="'dcn deploy' of the control plane creates the workload networks",
            )
        name = f"dcn-smoke-{az}"
        server = conn.compute.find_server(name)
        if server is not None and server.status == "ERROR":
            # a failed earlier attempt: replace it, so a re-run converges
            conn.compute.delete_server(server)
            conn.compute.wait_for_delete(server, wait=ACTIVE_WAIT)
            server = None
        if server is None:
            server = conn.compute.create_server(
                name=name,
                image_id=image.id,
                flavor_id=flavor.id,
                networks=[{"uuid": network.id}] if network else "none",
                availability_zone=az,
            )
        servers.append(server)
    sites = host_sites(ws)
    places = []
    for server in servers:
        try:
            server = conn.compute.wait_for_server(server, status="ACTIVE", wait=ACTIVE_WAIT)
        except Exception as exc:  # openstacksdk raises ResourceFailure/Timeout
            server = conn.compute.get_server(server.id)
            fault = (server.fault or {}).get("message") if server.fault else str(exc)
            raise DcnError(
                f"server {server.name} is {server.status}: {fault}",
                hint="see 'dcn status' and the compute logs of the site",
            ) from None
        places.append(_place(server, sites))
    return places


def _place(server: Any, sites: dict[str, str]) -> ServerPlace:
    host = server.compute_host or server.hypervisor_hostname or "?"
    return ServerPlace(
        server.name,
        server.status,
        server.availability_zone or "?",
        host,
        sites.get(host, "?"),
        bool(server.addresses),
    )


def list_servers(ws: Workspace) -> list[ServerPlace]:
    with api_errors("listing servers"):
        conn = admin_connection(ws)
        sites = host_sites(ws)
        return [_place(s, sites) for s in conn.compute.servers(details=True, all_projects=True)]


@dataclass(frozen=True, slots=True)
class ServerPort:
    """A server's first port, as a guest for it must look: where it is bound, its MAC
    and the address neutron gave it."""

    server: str
    name: str
    host: str
    port: str
    mac: str
    fixed_ip: str
    network: str


def server_port(ws: Workspace, server: str, conn: Any = None) -> ServerPort:
    """The first port of a server (by name or id) and the host it is bound to."""
    with api_errors(f"looking up server {server}"):
        conn = conn or admin_connection(ws)
        found = conn.compute.find_server(server, all_projects=True)
        if found is None:
            raise DcnError(f"no server named {server}", hint="'dcn servers' lists them")
        ports = sorted(conn.network.ports(device_id=found.id), key=lambda p: p.created_at or "")
        if not ports:
            raise DcnError(
                f"server {found.name} has no port (booted with no network)",
                hint="boot it on a workload network, e.g. with 'dcn smoke'",
            )
        port = ports[0]
        host = port.binding_host_id or found.compute_host or ""
        if not host:
            raise DcnError(
                f"server {found.name}'s port is bound to no host (server {found.status})",
                hint="wait for the server to be ACTIVE",
            )
        ips = [ip["ip_address"] for ip in port.fixed_ips or []]
        return ServerPort(
            found.id,
            found.name,
            host,
            port.id,
            port.mac_address,
            ips[0] if ips else "",
            port.network_id,
        )
