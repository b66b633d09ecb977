"""One site's StackPlan, as a pure function of the description and its inputs.

The control plane is planned from its own network plan and publishes outputs; an
edge is planned from those outputs only (or from an imported export), exactly as a
TripleO edge stack consumes the central stack's export. Nothing here reads state or
touches a host.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from dcn import __version__
from dcn.model.description import Deployment, Site
from dcn.model.nodes import Node, expand
from dcn.model.roles import ROLES
from dcn.network import plan_site_network
from dcn.plan.outputs import control_plane_outputs
from dcn.plan.types import (
    ControlPlaneOutputs,
    ExportVersion,
    FileSpec,
    NodePlan,
    SiteNetworkPlan,
    StackPlan,
    UnitPlan,
    digest_of,
)
from dcn.services.base import RenderContext
from dcn.services.catalog import service

Pinned = Mapping[str, Mapping[str, str]]
#: packages whose code decides what a plan contains
_PLANNING_CODE = ("model", "network", "node", "plan", "services", "templates")


@cache
def code_digest() -> str:
    """Digest of the code that renders plans: a dcn change that alters what a site gets
    re-plans it even when the description is unchanged (a version number alone would
    miss changes between releases)."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for package in _PLANNING_CODE:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and path.suffix != ".pyc":
                h.update(str(path.relative_to(root)).encode())
                h.update(path.read_bytes())
    return h.hexdigest()[:16]


def site_input_digest(
    deployment: Deployment, site: Site, outputs_digest: str | None, extra: object = None
) -> str:
    """Digest of everything a site's plan depends on, except addresses pinned from before.

    Equal digests mean an unchanged plan, so re-planning skips the site (planning work
    grows with what changed, not with the fleet).
    """
    return digest_of(
        {
            "dcn": __version__,
            "code": code_digest(),
            # every deployment-wide setting (name, domain, networks, liveness, ...):
            # whatever the description holds outside its sites may reach a plan
            "deployment": deployment.model_dump(exclude={"sites"}),
            "site": site.model_dump(),
            "outputs": outputs_digest,
            "extra": extra,
        }
    )


def control_plane_context(deployment: Deployment) -> list[tuple[str, str, str]]:
    """What the control plane's plan depends on outside its own site: the edge leaves."""
    return sorted(
        (s.name, net, subnet.cidr)
        for s in deployment.sites
        if not s.is_control_plane
        for net, subnet in s.networks.items()
    )


def fqdn(deployment: Deployment, hostname: str) -> str:
    return f"{hostname}.{deployment.domain}"


def _hosts_file(entries: list[str]) -> FileSpec:
    body = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"
    body += "# managed by dcn\n" + "".join(f"{line}\n" for line in entries)
    return FileSpec(content=body, mode="0644")


def site_hosts_entries(deployment: Deployment, network: SiteNetworkPlan) -> list[str]:
    """Hosts lines for a site's own nodes on their ctlplane and internal_api addresses."""
    lines = []
    for hostname, node in sorted(network.nodes.items()):
        for net in ("ctlplane", "internal_api"):
            ip = node.addresses.get(net)
            if ip is None:
                continue
            if net == "ctlplane":
                lines.append(f"{ip} {hostname}.{deployment.domain} {hostname}")
            else:
                label = deployment.dns_label(net)
                lines.append(f"{ip} {hostname}.{label}.{deployment.domain} {hostname}.{label}")
    return lines


def _node_plans(
    deployment: Deployment,
    site: Site,
    nodes: list[Node],
    network: SiteNetworkPlan,
    outputs: ControlPlaneOutputs,
    hosts: list[str],
) -> tuple[NodePlan, ...]:
    hosts_file = _hosts_file(hosts)
    plans = []
    for node in nodes:
        addresses = network.nodes[node.hostname].addresses
        services = ROLES[node.role].services
        ctx = RenderContext(
            deployment=deployment,
            site=site,
            network=network,
            hostname=node.hostname,
            fqdn=fqdn(deployment, node.hostname),
            addresses=addresses,
            outputs=outputs,
        )
        files: dict[str, FileSpec] = {"/etc/hosts": hosts_file}
        units = [UnitPlan(service="host", files=("/etc/hosts",))]
        for name in services:
            svc = service(name)
            own = svc.files(ctx)
            files.update(own)
            units.append(
                UnitPlan(
                    service=name,
                    files=tuple(sorted(own)),
                    dirs=svc.dirs(ctx),
                    steps=svc.steps(ctx),
                    processes=svc.processes(ctx),
                    packages=svc.packages,
                )
            )
        plans.append(
            NodePlan(
                hostname=node.hostname,
                fqdn=ctx.fqdn,
                role=node.role,
                mac=node.mac,
                addresses=dict(addresses),
                services=services,
                files=dict(sorted(files.items())),
                units=tuple(units),
                ansible_host=node.ansible_host,
            )
        )
    return tuple(plans)


def _secrets(nodes: tuple[NodePlan, ...]) -> tuple[str, ...]:
    return tuple(sorted({s for n in nodes for f in n.files.values() for s in f.secrets}))


def plan_control_plane(
    deployment: Deployment, site: Site, pinned: Pinned | None = None
) -> StackPlan:
    """The control-plane stack: its nodes, files, and the outputs edges consume."""
    nodes = expand(site, deployment.name)
    network = plan_site_network(deployment, site, nodes, pinned)
    outputs = control_plane_outputs(deployment, site, network, nodes)
    hosts = sorted(set(outputs.hosts_entry) | set(site_hosts_entries(deployment, network)))
    node_plans = _node_plans(deployment, site, nodes, network, outputs, hosts)
    return StackPlan(
        deployment=deployment.name,
        site=site.name,
        kind=site.kind,
        az=site.az,
        input_digest=site_input_digest(deployment, site, None, control_plane_context(deployment)),
        network=network,
        nodes=node_plans,
        hosts_entries=tuple(hosts),
        secrets=_secrets(node_plans),
        outputs=outputs,
    )


def plan_edge(
    deployment: Deployment,
    site: Site,
    outputs: ControlPlaneOutputs,
    export: ExportVersion,
    pinned: Pinned | None = None,
) -> StackPlan:
    """An edge stack, from the control plane's outputs only."""
    nodes = expand(site, deployment.name)
    network = plan_site_network(deployment, site, nodes, pinned)
    hosts = list(outputs.hosts_entry) + site_hosts_entries(deployment, network)
    node_plans = _node_plans(deployment, site, nodes, network, outputs, hosts)
    return StackPlan(
        deployment=deployment.name,
        site=site.name,
        kind=site.kind,
        az=site.az,
        input_digest=site_input_digest(deployment, site, export.digest),
        network=network,
        nodes=node_plans,
        hosts_entries=tuple(hosts),
        secrets=_secrets(node_plans),
        consumed_export=export,
    )


def pinned_from(plan: StackPlan | None) -> dict[str, dict[str, str]]:
    """Addresses of a previous plan, so re-planning keeps every existing address."""
    if plan is None:
        return {}
    pinned = {h: dict(n.addresses) for h, n in plan.network.nodes.items()}
    if plan.network.vips:
        pinned["__vip__"] = dict(plan.network.vips)
    return pinned
