"""The role catalog: which services a role runs, where it may be used, which networks.

One place decides placement, as kolla's inventory groups do; services are named as in
`dcn.services` and in the playbooks. Adding a service is its module under
`dcn.services` (its one declaration) and its name in the roles here that run it; the
order services have here is the order a node deploys them and derived tables list them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RoleDef:
    name: str
    #: site kinds that may use the role
    kinds: tuple[str, ...]
    services: tuple[str, ...]
    networks: tuple[str, ...]
    hostname_format: str


CONTROL_PLANE_SERVICES = (
    # a clustered control plane only (their runs_at): the VIPs and what serves them
    "haproxy",
    "keepalived",
    "mariadb",
    "rabbitmq",
    "keystone",
    "glance_api",
    "placement_api",
    "ovn_central",
    "neutron_server",
    "nova_api",
    "nova_metadata",
    "nova_conductor",
    "nova_scheduler",
)
#: Open vSwitch and ovn-controller first: nova-compute's ports bind on the chassis;
#: the metadata agent only at sites with a metadata route (its ``runs_at``)
COMPUTE_SERVICES = ("ovs", "ovn_controller", "ovn_metadata_agent", "nova_compute")
ALL_NETWORKS = ("ctlplane", "internal_api", "tenant", "storage", "external")
COMPUTE_NETWORKS = ("ctlplane", "internal_api", "tenant", "storage")

ROLES: dict[str, RoleDef] = {
    r.name: r
    for r in (
        RoleDef(
            "Controller",
            ("control-plane",),
            CONTROL_PLANE_SERVICES,
            ALL_NETWORKS,
            "%stackname%-controller-%index%",
        ),
        RoleDef(
            "Compute",
            ("control-plane",),
            COMPUTE_SERVICES,
            COMPUTE_NETWORKS,
            "%stackname%-novacompute-%index%",
        ),
        RoleDef(
            "DistributedCompute",
            ("edge",),
            COMPUTE_SERVICES,
            COMPUTE_NETWORKS,
            "%stackname%-distributedcompute-%index%",
        ),
        RoleDef(
            "DistributedComputeScaleOut",
            ("edge",),
            COMPUTE_SERVICES,
            COMPUTE_NETWORKS,
            "%stackname%-distributedcomputescaleout-%index%",
        ),
    )
}
