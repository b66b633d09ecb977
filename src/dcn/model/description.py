"""The deployment description: one control-plane site and any number of edge sites.

These pydantic models are the schema. They check shape and types only; rules that
look across fields or sites (overlaps, routes, duplicates, the seed's recommendations)
live in `dcn.validate` (registry: `dcn.validate.rules`), so each has a stable id and a fix text.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dcn.model.ipints import canonical_address, canonical_network, network_range

SiteName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$|^[a-z]$")]
NetName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")]
#: a Linux interface name (the kernel keeps 15 characters)
InterfaceName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")]
#: networks with TripleO-compatible meaning; others may be declared too
WELL_KNOWN_NETWORKS = ("ctlplane", "internal_api", "tenant", "storage", "external")
VIP_NETWORKS_DEFAULT = ("ctlplane", "internal_api", "storage", "external")


class _Strict(BaseModel):
    """No unknown fields, and no silent conversions: ``"yes"`` is not a boolean, ``"3"``
    or ``3.0`` not a count, ``8`` not a name. A value YAML 1.1 or a quoting mistake
    would change is an error at its line instead of a different setting."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


@lru_cache(maxsize=65536)
def _check_cidr(value: str) -> str:
    if canonical_network(value) is not None:
        return value
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(
            f"{value!r} is not a network in CIDR form (like 172.16.2.0/24): {exc}"
        ) from None
    return str(net)


@lru_cache(maxsize=65536)
def _check_ip(value: str) -> str:
    if canonical_address(value) is not None:
        return value
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


class Network(_Strict):
    """A routed network: each site has one leaf subnet of it."""

    ip_version: Literal[4, 6] = 4
    #: how IPv6 hosts get addresses: computed from the MAC (EUI-64) or assigned by dcn
    ipv6_address_mode: Literal["slaac", "static"] = "static"
    #: the provisioning (ctlplane) network; IPv6 is not allowed there
    provisioning: bool | None = None
    #: the control plane gets a virtual IP on this network
    vip: bool | None = None
    mtu: int = Field(1500, ge=1280, le=9216)
    #: an aggregate that holds every leaf: one route to it instead of one per leaf
    supernet: str | None = None
    #: DNS label used in host names on this network (TripleO: internalapi)
    dns_label: str | None = None

    _supernet = field_validator("supernet")(lambda v: v if v is None else _check_cidr(v))


class Pool(_Strict):
    start: str
    end: str

    _ips = field_validator("start", "end")(_check_ip)


class Route(_Strict):
    destination: str
    nexthop: str

    _dest = field_validator("destination")(_check_cidr)
    _hop = field_validator("nexthop")(_check_ip)


class Subnet(_Strict):
    """One site's leaf of a network."""

    cidr: str
    gateway: str | None = None
    #: where dcn may assign addresses; default: the whole subnet after the gateway
    allocation_pools: list[Pool] | None = None
    #: None: dcn computes routes to the leaves this site needs; a list: exactly these
    routes: list[Route] | None = None
    vlan: int | None = Field(None, ge=1, le=4094)
    #: TripleO-style subnet name, default ``<network>_<site>``
    name: str | None = None

    _cidr = field_validator("cidr")(_check_cidr)
    _gw = field_validator("gateway")(lambda v: v if v is None else _check_ip(v))


class NodeSpec(_Strict):
    """An explicitly named node, optionally with its MAC and fixed addresses."""

    #: an RFC 1123 label (rule DCN107 says what is wrong with one that is not)
    hostname: str
    mac: str | None = None
    #: network name -> fixed address on that network's leaf subnet
    addresses: dict[str, str] = Field(default_factory=dict)
    #: how to reach the node over SSH when it is a real host (default: its ctlplane address)
    ansible_host: str | None = None

    @field_validator("mac")
    @classmethod
    def _mac(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = value.replace("-", ":").lower().split(":")
        if len(parts) != 6 or not all(len(p) == 2 for p in parts):
            raise ValueError(f"{value!r} is not a MAC address like 52:54:00:12:34:56")
        try:
            [int(p, 16) for p in parts]
        except ValueError:
            raise ValueError(f"{value!r} is not a MAC address like 52:54:00:12:34:56") from None
        return ":".join(parts)

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: dict[str, str]) -> dict[str, str]:
        return {net: _check_ip(ip) for net, ip in value.items()}


class RoleSpec(_Strict):
    """How many nodes of a role a site has, or which ones."""

    count: int | None = Field(None, ge=0, le=10000)
    nodes: list[NodeSpec] = Field(default_factory=list)
    #: TripleO-style, with %stackname% and %index%; default from the role catalog
    hostname_format: str | None = None
    #: networks the role's nodes attach to; default from the role catalog
    networks: list[str] | None = None

    @model_validator(mode="after")
    def _count_covers_nodes(self) -> RoleSpec:
        if self.count is not None and self.count < len(self.nodes):
            raise ValueError(
                f"count is {self.count} but {len(self.nodes)} nodes are listed; "
                "raise count or remove it (the listed nodes count by themselves)"
            )
        return self

    @property
    def size(self) -> int:
        return self.count if self.count is not None else max(len(self.nodes), 1)


#: the ML2 mechanism dcn deploys; the others parse so that rule DCN405 can say so
DEPLOYED_MECHANISM = "ovn"


class Sdn(_Strict):
    """The networking choice of a site (the seed: provider networks at the edge).

    OVN is deployed everywhere: a site's workloads use segments of routed provider
    networks (`Deployment.workload_networks`), and geneve tenant networks only where
    ``tunnelling`` is set.
    """

    mechanism: Literal["provider", "ovn", "openvswitch"] = DEPLOYED_MECHANISM
    #: the site's computes join the geneve mesh, so tenant networks reach them
    #: (sub-optimal at the edge per the seed: rule DCN401)
    tunnelling: bool = False
    #: distributed virtual routing for east-west traffic
    dvr: bool = False
    #: Open vSwitch's datapath on the site's computes: ``system`` (the kernel's
    #: openvswitch module), ``netdev`` (userspace: hosts without the module, such as
    #: lab nodes), or ``auto``: the kernel's where the node can load the module
    datapath: Literal["auto", "system", "netdev"] = "auto"
    #: the NIC of each compute that carries the site's provider segments (a port of
    #: ``br-provider``); unset, workloads at the site reach only each other
    provider_interface: InterfaceName | None = None


class InstanceMetadata(_Strict):
    """How instances get their metadata: config drive, or a route to the metadata service."""

    config_drive: bool = True
    metadata_route: bool = False


class Site(_Strict):
    """One site, deployed as its own stack."""

    name: SiteName
    kind: Literal["control-plane", "edge"]
    #: default: the site name
    availability_zone: str | None = None
    roles: dict[str, RoleSpec]
    networks: dict[str, Subnet]
    sdn: Sdn = Field(default_factory=Sdn)
    instance_metadata: InstanceMetadata = Field(default_factory=InstanceMetadata)
    instance_storage: Literal["ephemeral", "ceph", "nfs", "cinder"] = "ephemeral"
    #: control plane only: number of controllers (MariaDB/RabbitMQ cluster size)
    ha_size: int | None = Field(None, ge=1, le=9)
    #: file -> section -> option -> value, applied after dcn's own settings
    config_overrides: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)

    @property
    def az(self) -> str:
        return self.availability_zone or self.name

    @property
    def is_control_plane(self) -> bool:
        return self.kind == "control-plane"

    @property
    def clustered(self) -> bool:
        """A control plane of several controllers: its databases and broker are clusters,
        and keepalived and haproxy hold and serve its VIPs."""
        controllers = self.roles.get("Controller")
        return self.is_control_plane and controllers is not None and controllers.size > 1


class Liveness(_Strict):
    """How fast the cloud notices a failure and recovers from it (seconds).

    These settings decide what a cut link costs: a compute is marked down after
    ``service_down_time`` without a report, reports every ``report_interval``, and
    after a broken broker connection retries with back-off up to
    ``reconnect_interval_max``. The defaults are nova's and oslo.messaging's.
    """

    #: nova services report their liveness this often (nova ``report_interval``)
    report_interval: int = Field(10, ge=1)
    #: a service silent for this long is down (nova ``service_down_time``)
    service_down_time: int = Field(60, ge=1)
    #: AMQP heartbeat timeout, client and broker (0 disables heartbeats)
    heartbeat_timeout_threshold: int = Field(60, ge=0)
    #: heartbeats per timeout period (oslo.messaging ``heartbeat_rate``)
    heartbeat_rate: int = Field(3, ge=1)
    #: the longest wait between broker reconnection attempts (``rabbit_interval_max``)
    reconnect_interval_max: int = Field(30, ge=1)


#: a workload network's name in neutron (and in messages)
WorkloadNetName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]
#: neutron keeps a physical network name in 64 characters; OVN's bridge mappings and
#: ML2's ``network_vlan_ranges`` split on ``,`` and ``:``, so neither is allowed
PHYSNET_MAX = 64
PhysnetName = Annotated[str, Field(pattern=rf"^[a-z][a-z0-9_.-]{{0,{PHYSNET_MAX - 1}}}$")]


def physnet_of(site: str) -> str:
    """The physical network a site's segments use unless one is named: each edge site
    has its own (the TripleO/RHOSO DCN model), bridged on its computes only."""
    return f"physnet-{site}"


def first_host(cidr: str) -> str:
    """The first address after the network address: a workload subnet's default gateway."""
    net = network_range(cidr)
    value = min(net.first + 1, net.last)
    return str(ipaddress.IPv4Address(value) if net.version == 4 else ipaddress.IPv6Address(value))


class _WorkloadSubnet(_Strict):
    """Addressing of a workload subnet; the rules DCN707/DCN708 check it."""

    #: default: the first host of the subnet
    gateway: str | None = None
    #: where neutron allocates workload addresses; default: the subnet less its gateway
    allocation_pools: list[Pool] | None = None
    #: neutron (OVN native) DHCP on the subnet
    dhcp: bool = True

    _gw = field_validator("gateway")(lambda v: v if v is None else _check_ip(v))

    @property
    def subnet_cidr(self) -> str:
        raise NotImplementedError

    @property
    def gateway_ip(self) -> str:
        """The gateway as given, or the subnet's first host."""
        return self.gateway or first_host(self.subnet_cidr)


class Segment(_WorkloadSubnet):
    """One edge site's part of a routed provider network: its own physical network,
    bridged on the site's computes to a site-local VLAN or flat segment, and its own
    subnet, so a workload stays on its site's L2 and reaches its site's gateway."""

    site: SiteName
    #: default ``physnet-<site>``
    physnet: PhysnetName | None = None
    network_type: Literal["vlan", "flat"]
    #: the 802.1Q id, for ``network_type: vlan`` only
    vlan: int | None = Field(None, ge=1, le=4094)
    subnet: str

    _subnet = field_validator("subnet")(_check_cidr)

    @model_validator(mode="after")
    def _type_and_physnet(self) -> Segment:
        if self.network_type == "vlan" and self.vlan is None:
            raise ValueError("a vlan segment needs its VLAN id: add vlan: 1-4094")
        if self.network_type == "flat" and self.vlan is not None:
            raise ValueError(
                "vlan is only for network_type: vlan; remove it or set network_type: vlan"
            )
        derived = physnet_of(self.site)
        if self.physnet is None and len(derived) > PHYSNET_MAX:
            raise ValueError(
                f"the default physnet {derived!r} is {len(derived)} characters, neutron keeps "
                f"{PHYSNET_MAX}: name a shorter one with physnet"
            )
        return self

    @property
    def subnet_cidr(self) -> str:
        return self.subnet

    @property
    def physical_network(self) -> str:
        """The physnet as given, or ``physnet-<site>``."""
        return self.physnet or physnet_of(self.site)


class ProviderNetwork(_Strict):
    """A routed provider network (neutron's ``segments`` plugin): one segment and
    subnet per edge site that has it; servers on it boot only where it has one."""

    name: WorkloadNetName
    kind: Literal["provider"]
    segments: list[Segment] = Field(min_length=1)
    #: every project may attach servers to it (neutron ``shared``)
    shared: bool = True


class TenantNetwork(_WorkloadSubnet):
    """A geneve overlay network over the sites that tunnel (``sdn.tunnelling: true``)."""

    name: WorkloadNetName
    kind: Literal["tenant"]
    network_type: Literal["geneve"] = "geneve"
    cidr: str
    #: the edge sites whose workloads use it; each must set sdn.tunnelling (DCN709)
    sites: list[SiteName] = Field(min_length=1)
    #: every project may attach servers to it (neutron ``shared``)
    shared: bool = True

    _cidr = field_validator("cidr")(_check_cidr)

    @property
    def subnet_cidr(self) -> str:
        return self.cidr


#: ``kind`` says which: the schema reports a wrong field against that kind's fields
WorkloadNetwork = Annotated[ProviderNetwork | TenantNetwork, Field(discriminator="kind")]


class Deployment(_Strict):
    """The whole description: networks shared by all sites, and the sites."""

    name: SiteName
    domain: str = "localdomain"
    networks: dict[NetName, Network]
    sites: list[Site]
    #: an export written elsewhere (TripleO, or by hand) for a control plane dcn did not
    #: deploy; edge sites then consume it and the description has no control-plane site
    control_plane_export: str | None = None
    #: failure detection and reconnection settings of every site
    liveness: Liveness = Field(default_factory=Liveness)
    #: the networks workloads use (neutron networks, segments and subnets)
    workload_networks: list[WorkloadNetwork] = Field(default_factory=list)

    def site(self, name: str) -> Site | None:
        for site in self.sites:
            if site.name == name:
                return site
        return None

    @property
    def control_plane(self) -> Site | None:
        for site in self.sites:
            if site.is_control_plane:
                return site
        return None

    @property
    def edges(self) -> list[Site]:
        return [s for s in self.sites if not s.is_control_plane]

    def segments_by_site(self) -> dict[str, list[tuple[ProviderNetwork, Segment]]]:
        """Each site's segments with their networks (computed per call: keep it)."""
        out: dict[str, list[tuple[ProviderNetwork, Segment]]] = {}
        for net in self.workload_networks:
            if isinstance(net, ProviderNetwork):
                for seg in net.segments:
                    out.setdefault(seg.site, []).append((net, seg))
        return out

    def first_segment(self, site: str) -> tuple[ProviderNetwork, Segment] | None:
        """The first provider network with a segment at the site, and that segment: what
        a server at the site boots on."""
        found = self.segments_by_site().get(site)
        return found[0] if found else None

    def network_is_provisioning(self, name: str) -> bool:
        net = self.networks[name]
        return net.provisioning if net.provisioning is not None else name == "ctlplane"

    def network_has_vip(self, name: str) -> bool:
        net = self.networks[name]
        return net.vip if net.vip is not None else name in VIP_NETWORKS_DEFAULT

    def dns_label(self, name: str) -> str:
        return self.networks[name].dns_label or name.replace("_", "")


def parse(data: dict[str, Any]) -> Deployment:
    """Validate plain data into a Deployment (raises pydantic.ValidationError)."""
    return Deployment.model_validate(data)
