"""The control plane's outputs, in TripleO's names and shapes, computed from its plan.

Edge stacks consume these and nothing else (the seed's EndpointMap, AllNodesConfig,
GlobalConfig and HostsEntry), so an edge planned by dcn and one fed a TripleO export
render from the same contract. The endpoints, TripleO service names and GlobalConfig
come from the service declarations (`dcn.services.catalog`): a service brings its own.
Pure: no I/O, deterministic output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dcn.errors import DcnError
from dcn.model.description import Deployment, Site
from dcn.model.roles import COMPUTE_SERVICES, ROLES
from dcn.plan.types import ControlPlaneOutputs, SiteNetworkPlan
from dcn.services import catalog
from dcn.services.base import ADMIN, INTERNAL, PUBLIC, Endpoint
from dcn.services.common import QUORUM_KEY
from dcn.services.render import referenced_secrets

#: dcn service -> the TripleO service names it stands for; every EndpointMap row, each
#: with the TripleO service behind it (no entry when no node runs it): both derived
#: from the service declarations (`dcn.services.catalog`)
TRIPLEO_SERVICES = catalog.TRIPLEO_SERVICES
ENDPOINTS: tuple[Endpoint, ...] = catalog.ENDPOINTS

#: the network whose VIP serves the Public interface (and names the cloud)
PUBLIC_NETWORK = "external"
#: the network services listen on; ctlplane when a node has no address on it
SERVICE_NETWORK = "internal_api"
FALLBACK_NETWORK = "ctlplane"
#: AllNodesConfig VIP keys whose name is not ``<network>_virtual_ip``
VIP_KEYS = {"external": "public_virtual_ip", "ctlplane": "control_virtual_ip"}
#: service VIPs TripleO carried; all on the internal VIP here
SERVICE_VIPS = ("mysql_vip", "redis_vip", "ovn_dbs_vip")

#: output keys that hold a secret (a reference in plans, a value in an export) -> its name
SECRET_KEYS: dict[str, str] = {
    key: name
    for key, value in catalog.GLOBAL_CONFIG.items()
    for name in referenced_secrets(str(value))
}
#: TripleO's memcached port (no memcached runs here: kept for consumers of the export)
MEMCACHED_PORT = "11211"


class NodeLike(Protocol):
    """What outputs need of a node: its name and role (addresses come from the plan)."""

    @property
    def hostname(self) -> str: ...

    @property
    def role(self) -> str: ...


@dataclass(frozen=True, slots=True)
class _Member:
    """One node running a service, as TripleO lists it."""

    hostname: str
    ip: str
    name: str


def bracketed(ip: str) -> str:
    """An address as it goes into a URL: IPv6 in brackets."""
    return f"[{ip}]" if ":" in ip else ip


def _entry(endpoint: Endpoint, ip: str) -> dict[str, str]:
    host = bracketed(ip)
    base = f"{endpoint.protocol}://{host}"
    if endpoint.port_in_uri:
        base += f":{endpoint.port}"
    return {
        "protocol": endpoint.protocol,
        "host": host,
        "host_nobrackets": ip,
        "port": str(endpoint.port),
        "uri": base + endpoint.suffix,
        "uri_no_suffix": base,
    }


def _placement(
    deployment: Deployment, network: SiteNetworkPlan, nodes: Sequence[NodeLike]
) -> dict[str, list[_Member]]:
    """TripleO service -> the nodes running it, in node order, on the service network."""
    placement: dict[str, list[_Member]] = {}
    # what the nodes run: a service may run only at sites of some choice (runs_at)
    site = deployment.site(network.site)
    for node in nodes:
        addressing = network.nodes.get(node.hostname)
        addresses = addressing.addresses if addressing else {}
        net = SERVICE_NETWORK if SERVICE_NETWORK in addresses else FALLBACK_NETWORK
        if net not in addresses:
            raise DcnError(
                f"node {node.hostname} has no {SERVICE_NETWORK} or {FALLBACK_NETWORK} address "
                f"in the network plan of {network.site}",
                hint=f"attach its role to {SERVICE_NETWORK} (services listen there)",
            )
        ip = addresses[net]
        member = _Member(
            node.hostname, ip, f"{node.hostname}.{deployment.dns_label(net)}.{deployment.domain}"
        )
        for svc in catalog.node_services(node.role, site) if site else ROLES[node.role].services:
            for name in TRIPLEO_SERVICES.get(svc, (svc,)):
                placement.setdefault(name, []).append(member)
    return dict(sorted(placement.items()))


def _interface_ips(network: SiteNetworkPlan) -> dict[str, str | None]:
    internal = network.vips.get(SERVICE_NETWORK)
    public = network.vips.get(PUBLIC_NETWORK) or internal
    return {INTERNAL: internal, ADMIN: internal, PUBLIC: public}


def _endpoint_map(
    network: SiteNetworkPlan, placement: Mapping[str, list[_Member]]
) -> dict[str, dict[str, str]]:
    """One entry per (endpoint, interface) whose service runs here; no VIP: its first node."""
    vips = _interface_ips(network)
    entries = {
        f"{ep.name}{iface}": _entry(ep, vips[iface] or placement[ep.service][0].ip)
        for ep in ENDPOINTS
        if ep.service in placement
        for iface in ep.interfaces
    }
    return dict(sorted(entries.items()))


def _vip_key(net: str) -> str:
    return VIP_KEYS.get(net, f"{net}_virtual_ip")


def _all_nodes_config(
    deployment: Deployment,
    site: Site,
    network: SiteNetworkPlan,
    placement: Mapping[str, list[_Member]],
) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "enabled_services": sorted(placement),
        "stack_name": site.name,
        "cloud_domain": deployment.domain,
    }
    for svc, members in placement.items():
        cfg[f"{svc}_node_ips"] = [m.ip for m in members]
        cfg[f"{svc}_node_names"] = [m.name for m in members]
        cfg[f"{svc}_short_node_names"] = [m.hostname for m in members]
        cfg[f"{svc}_short_bootstrap_node_name"] = members[0].hostname
        cfg[f"{svc}_bootstrap_node_ip"] = members[0].ip
    for net, vip in network.vips.items():
        cfg[_vip_key(net)] = vip
    service_vip = network.vips.get(SERVICE_NETWORK)
    if service_vip:  # else clients use <service>_node_ips, as the endpoints do
        cfg.update(dict.fromkeys(SERVICE_VIPS, service_vip))
    return dict(sorted(cfg.items()))


def cloud_name(deployment: Deployment, net: str) -> tuple[str, str]:
    """(fqdn, short) of the cloud on a network: TripleO's CloudName / CloudNameInternal..."""
    if net == PUBLIC_NETWORK:
        return f"{deployment.name}.{deployment.domain}", deployment.name
    short = f"{deployment.name}.{deployment.dns_label(net)}"
    return f"{short}.{deployment.domain}", short


def _global_config(
    deployment: Deployment, network: SiteNetworkPlan, placement: Mapping[str, list[_Member]]
) -> dict[str, Any]:
    internal = network.vips.get(SERVICE_NETWORK) or next((m[0].ip for m in placement.values()), "")
    cfg: dict[str, Any] = dict(catalog.GLOBAL_CONFIG)
    cfg |= {
        "memcached_port": MEMCACHED_PORT,
        "memcached_ipv6": ":" in internal,
        "enable_internal_tls": False,
        "cloud_name": cloud_name(deployment, PUBLIC_NETWORK)[0],
    }
    if len(placement.get("oslo_messaging_rpc", ())) > 1:
        cfg[QUORUM_KEY] = True
    cfg |= {f"cloud_name_{net}": cloud_name(deployment, net)[0] for net in network.vips}
    return dict(sorted(cfg.items()))


def serves_others(role: str) -> bool:
    """Whether a role's nodes run a service other nodes reach by name (a broker, a
    database, an API): a compute only serves its own instances."""
    return not set(ROLES[role].services) <= set(COMPUTE_SERVICES)


def _hosts_entry(
    deployment: Deployment, network: SiteNetworkPlan, nodes: Sequence[NodeLike]
) -> list[str]:
    """``<ip> <fqdn> <short>`` for every node that serves others, on every network, and
    the cloud's VIP names.

    Every node of every site gets these lines, so they grow with the controllers only:
    listing the control plane's computes too would give each of N nodes N lines.
    """
    domain = deployment.domain
    lines: set[str] = set()
    for node in nodes:
        if not serves_others(node.role):
            continue
        host = node.hostname
        for net, ip in network.nodes[host].addresses.items():
            label = deployment.dns_label(net)
            lines.add(f"{ip} {host}.{label}.{domain} {host}.{label}")
            if deployment.network_is_provisioning(net):
                lines.add(f"{ip} {host}.{domain} {host}")
    for net, vip in network.vips.items():
        lines.add(f"{vip} {' '.join(cloud_name(deployment, net))}")
    public = _interface_ips(network)[PUBLIC]
    if public and PUBLIC_NETWORK not in network.vips:
        lines.add(f"{public} {' '.join(cloud_name(deployment, PUBLIC_NETWORK))}")
    return sorted(lines)


def control_plane_outputs(
    deployment: Deployment, site: Site, network: SiteNetworkPlan, nodes: Sequence[NodeLike]
) -> ControlPlaneOutputs:
    """What the control-plane stack publishes for edges, from its nodes and network plan."""
    placement = _placement(deployment, network, nodes)
    return ControlPlaneOutputs(
        stack=site.name,
        endpoint_map=_endpoint_map(network, placement),
        all_nodes_config=_all_nodes_config(deployment, site, network, placement),
        global_config=_global_config(deployment, network, placement),
        hosts_entry=_hosts_entry(deployment, network, nodes),
    )
