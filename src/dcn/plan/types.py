"""Plan values: what a site's stack will be. Plain, serialisable, comparable.

A StackPlan holds secret *references* (see `secret_ref`), never secret values, so
plans can be shown, diffed, digested and stored; values are filled in at delivery.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

SECRET_PREFIX = "@@dcn-secret:"
SECRET_SUFFIX = "@@"


def secret_ref(name: str) -> str:
    """The placeholder rendered into a file where secret `name` belongs."""
    return f"{SECRET_PREFIX}{name}{SECRET_SUFFIX}"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def digest_of(value: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(value).encode()).hexdigest()


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_LEAVES = (str, int, float, bool, type(None))


def plain(value: Any) -> Any:
    """A plan value as JSON-ready dicts and lists.

    Same content as ``dataclasses.asdict`` (sequences become lists, which JSON cannot
    tell apart), without its deep copy of every leaf: plans hold only immutable leaves,
    and at 5,000 sites ``asdict`` was most of the planning time.
    """
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is dict:
        return {k: plain(v) for k, v in value.items()}
    if kind is tuple or kind is list:
        return [plain(v) for v in value]
    names = _FIELD_NAMES.get(kind)
    if names is None:
        if not is_dataclass(kind):
            return value
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(kind))
    return {name: plain(getattr(value, name)) for name in names}


@dataclass(frozen=True, slots=True)
class RoutePlan:
    destination: str
    nexthop: str


@dataclass(frozen=True, slots=True)
class SubnetPlan:
    """A site's leaf subnet of one network, resolved."""

    network: str
    name: str
    cidr: str
    ip_version: int
    gateway: str | None
    vlan: int | None
    mtu: int
    #: routes every node of this leaf uses on this network
    routes: tuple[RoutePlan, ...] = ()
    ipv6_address_mode: str = "static"


@dataclass(frozen=True, slots=True)
class NodeAddressing:
    hostname: str
    #: network -> address on the site's leaf (IPv6 SLAAC addresses are EUI-64 of the MAC)
    addresses: dict[str, str]
    mac: str


@dataclass(frozen=True, slots=True)
class ProviderSegmentPlan:
    """A site's segment of a workload provider network, as its router sees it: the
    gateway it holds on the segment (untagged for flat, on the VLAN for vlan)."""

    network: str
    physnet: str
    vlan: int | None
    cidr: str
    gateway: str


@dataclass(frozen=True, slots=True)
class SiteNetworkPlan:
    site: str
    subnets: dict[str, SubnetPlan]
    #: hostname -> addressing
    nodes: dict[str, NodeAddressing]
    #: network -> virtual IP (control plane only)
    vips: dict[str, str] = field(default_factory=dict)
    #: the NIC of the site's computes on br-provider (``sdn.provider_interface``)
    provider_interface: str | None = None
    #: the site's segments of the workload provider networks
    provider_segments: tuple[ProviderSegmentPlan, ...] = ()


@dataclass(frozen=True, slots=True)
class FileSpec:
    """A file to place on a node. `content` may hold secret references."""

    content: str
    mode: str = "0640"
    #: the secret names referenced in `content`
    secrets: tuple[str, ...] = ()
    #: user (and group) owning the file: the one its service runs as where that is
    #: not root and the file is not world-readable
    owner: str = "root"


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """A long-running process of a node: a systemd unit there (`dcn.deploy.units`).

    Either dcn renders the unit (``dcn-<name>.service``) from `command`, `workdir`,
    `user` and `env`, or the process runs as the unit its Debian package ships
    (`packaged_unit`), which dcn adjusts with a drop-in (`env`, restart policy).
    """

    name: str
    command: tuple[str, ...] = ()
    workdir: str = "/"
    #: a TCP port that answers when the process is healthy
    health_port: int | None = None
    #: environment; never a secret (unit files are world-readable): secrets go in files
    env: dict[str, str] = field(default_factory=dict)
    user: str = "root"
    #: processes of the same node it starts after when both are there (its backends)
    after: tuple[str, ...] = ()
    #: the Debian package's unit this process runs as (e.g. ``mariadb.service``)
    packaged_unit: str | None = None
    #: the packaged unit is a oneshot grouping daemons that are ``PartOf=`` it (Debian's
    #: ``openvswitch-switch``, ``ovn-central``, ``ovn-host``): restarting it restarts
    #: them; each daemon keeps its own restart policy (systemd 252 refuses ``Restart=``
    #: on a oneshot)
    group: bool = False


@dataclass(frozen=True, slots=True)
class DirSpec:
    """A directory a service needs before its first start (data, logs, runtime)."""

    path: str
    owner: str = "root"
    mode: str = "0755"


@dataclass(frozen=True, slots=True)
class StepSpec:
    """A one-shot command of a service's deploy: a schema sync, a bootstrap, a registration.

    A step runs again only when what it depends on changes: its command, the files in
    `rerun_on` (their delivered content, secrets included) or the OpenStack release.
    """

    name: str
    command: tuple[str, ...]
    #: "pre": before the service's processes start; "post": once they answer
    phase: str = "pre"
    #: files whose change makes the step run again (e.g. the SQL that sets passwords)
    rerun_on: tuple[str, ...] = ()
    #: environment; values may hold secret references (delivered, never logged)
    env: dict[str, str] = field(default_factory=dict)
    #: True: not re-run for a new OpenStack release (schema syncs are, to migrate)
    once: bool = False
    #: True: run on the bootstrap node only (the first of its role at the site): work on
    #: what the site's nodes share, a database schema, a cluster's users, nova's cells
    bootstrap_only: bool = False


@dataclass(frozen=True, slots=True)
class UnitPlan:
    """One service on one node, in deploy order: dirs, files, pre steps, processes
    (started and waited for), post steps."""

    service: str
    files: tuple[str, ...]
    dirs: tuple[DirSpec, ...] = ()
    steps: tuple[StepSpec, ...] = ()
    processes: tuple[ProcessSpec, ...] = ()
    #: Debian packages the service needs on the host
    packages: tuple[str, ...] = ()
    #: units those packages ship that the service's processes run as: kept stopped
    #: on a host until dcn has configured them
    packaged_units: tuple[str, ...] = ()
    #: the units on the same node that must be done (processes answering, steps run)
    #: before this one starts; None: every unit before it. A unit applies side by
    #: side with the others that need nothing of each other (`dcn.deploy.bundle`).
    needs: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class NodePlan:
    hostname: str
    fqdn: str
    role: str
    mac: str
    addresses: dict[str, str]
    services: tuple[str, ...]
    #: absolute path on the node -> file
    files: dict[str, FileSpec]
    #: services in deploy order, each naming its files among `files`
    units: tuple[UnitPlan, ...] = ()
    ansible_host: str | None = None

    @property
    def processes(self) -> tuple[ProcessSpec, ...]:
        return tuple(p for u in self.units for p in u.processes)

    @property
    def ssh_address(self) -> str | None:
        """Where Ansible, health checks and the lab reach the node."""
        return self.ansible_host or self.addresses.get("ctlplane")


@dataclass(frozen=True, slots=True)
class ExportVersion:
    """Which control-plane outputs an edge consumed: stack, generation, digest."""

    stack: str
    generation: int
    digest: str

    def __str__(self) -> str:
        return f"{self.stack}@{self.generation} {self.digest[:19]}"


@dataclass(frozen=True, slots=True)
class ControlPlaneOutputs:
    """The control plane's outputs that edge stacks consume (TripleO names).

    Contract used by edge services when rendering:
    - endpoint_map: TripleO EndpointMap, e.g. ``KeystoneInternal``, ``KeystonePublic``,
      ``NovaInternal``, ``PlacementInternal``, ``GlanceInternal``, ``NeutronInternal``,
      each ``{protocol, host, host_nobrackets, port, uri, uri_no_suffix}`` (port a string).
    - global_config: ``oslo_messaging_{rpc,notify}_{scheme,port,user_name,password,use_ssl}``
      (password is a secret reference inside plans), ``memcached_port``, ...
    - all_nodes_config: ``enabled_services``, ``<service>_node_ips``, ``<service>_node_names``,
      ``<service>_short_node_names``, ``<service>_short_bootstrap_node_name``,
      ``<service>_bootstrap_node_ip``, VIPs (``internal_api_virtual_ip``, ...), where
      ``oslo_messaging_rpc_node_names`` lists the broker hosts an edge connects to.
    - hosts_entry: ``"<ip> <fqdn> <short>"`` lines for the control plane's nodes that serve
      others (controllers, not computes) and its VIPs; every node's /etc/hosts has them.
    """

    stack: str
    endpoint_map: dict[str, dict[str, str]]
    all_nodes_config: dict[str, Any]
    global_config: dict[str, Any]
    hosts_entry: list[str]

    def digest(self) -> str:
        return digest_of(plain(self))


@dataclass(frozen=True, slots=True)
class StackPlan:
    """Everything one site's stack will be, computed without touching a host."""

    deployment: str
    site: str
    kind: str
    az: str
    #: digest of every input the plan was computed from (for incremental re-planning)
    input_digest: str
    network: SiteNetworkPlan
    nodes: tuple[NodePlan, ...]
    #: /etc/hosts lines every node of the stack has: the control plane's names (its
    #: ``hosts_entry``); each node adds only its own names, so no file grows with the site
    hosts_entries: tuple[str, ...]
    #: secret names this stack's files reference; only these are delivered to it
    secrets: tuple[str, ...]
    #: the control plane publishes outputs; an edge records which ones it consumed
    outputs: ControlPlaneOutputs | None = None
    consumed_export: ExportVersion | None = None

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = plain(self)
        return result

    def digest(self) -> str:
        return digest_of(self.as_dict())

    @property
    def clustered(self) -> bool:
        """A control plane of several controllers (keepalived holds its VIPs)."""
        return len(self.controllers()) > 1

    def controllers(self) -> tuple[NodePlan, ...]:
        """The nodes that run the control plane's APIs, the bootstrap node first."""
        return tuple(n for n in self.nodes if "keystone" in n.services)

    def api_node(self) -> NodePlan | None:
        """The first controller: it holds the VIPs and runs the control plane's one-off
        work (catalog, edge registration) and is where drills inject control-plane faults."""
        return next((n for n in self.nodes if "keystone" in n.services), None)

    def held_addresses(self, node: NodePlan) -> dict[str, tuple[str, ...]]:
        """Network -> the addresses the node must hold there: its own, and the VIPs on
        the first controller (services bind to them; the lab puts them there too). On a
        clustered control plane keepalived moves the VIPs: no node holds them for good."""
        holder = None if self.clustered else self.api_node()
        vips = self.network.vips if holder and holder.hostname == node.hostname else {}
        return {
            net: (address, *([vips[net]] if net in vips else []))
            for net, address in node.addresses.items()
            if net in self.network.subnets
        }
