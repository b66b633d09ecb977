"""One site's StackPlan, as a pure function of the description and its inputs.

The control plane is planned from its own network plan and publishes outputs; an
edge is planned from those outputs only (or from an imported export), exactly as a
TripleO edge stack consumes the central stack's export. Nothing here reads state or
touches a host.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from dcn import __version__
from dcn.lines import join_lines
from dcn.model.description import Deployment, Site
from dcn.model.fleet import edge_leaves_text, site_model_digest
from dcn.model.nodes import Node, expand
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
    canonical_json,
    digest_of,
)
from dcn.services.base import RenderContext
from dcn.services.catalog import node_services, service

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


#: the last description whose deployment-wide settings were digested, with the digest
_wide_digest: list[tuple[Deployment, str]] = []


def deployment_wide_digest(deployment: Deployment) -> str:
    """Digest of every deployment-wide setting (name, domain, networks, liveness, ...):
    whatever the description holds outside its sites may reach a plan.

    Computed once per description (models are frozen), not once for each of its sites.
    """
    if _wide_digest and _wide_digest[0][0] is deployment:
        return _wide_digest[0][1]
    digest = digest_of(deployment.model_dump(exclude={"sites"}))
    _wide_digest[:] = [(deployment, digest)]
    return digest


def site_input_digest(
    deployment: Deployment, site_digest: str, outputs_digest: str | None, extra: object = None
) -> str:
    """Digest of everything a site's plan depends on, except addresses pinned from before
    (`site_digest` is `site_model_digest` of the site: the validation memo keeps it).

    Equal digests mean an unchanged plan, so re-planning skips the site (planning work
    grows with what changed, not with the fleet).
    """
    # one line each (none holds a line break), then the extra context as JSON: a fleet's
    # every site is digested on each re-plan, so no JSON of a dict per site
    head = "\n".join(
        [
            __version__,
            code_digest(),
            deployment_wide_digest(deployment),
            site_digest,
            str(outputs_digest),
            "" if extra is None else canonical_json(extra),
        ]
    )
    return "sha256:" + hashlib.sha256(head.encode()).hexdigest()


def control_plane_context(deployment: Deployment) -> str:
    """What the control plane's plan depends on outside its own site: the edge leaves."""
    return edge_leaves_text(
        (s.name, net, subnet.cidr)
        for s in deployment.sites
        if not s.is_control_plane
        for net, subnet in s.networks.items()
    )


def fqdn(deployment: Deployment, hostname: str) -> str:
    return f"{hostname}.{deployment.domain}"


HOSTS_HEADER = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n# managed by dcn\n"


def own_hosts_entries(
    deployment: Deployment, hostname: str, addresses: Mapping[str, str]
) -> list[str]:
    """A node's own names: its canonical name (ctlplane) and its internal_api name."""
    lines = []
    if ip := addresses.get("ctlplane"):
        lines.append(f"{ip} {hostname}.{deployment.domain} {hostname}")
    if ip := addresses.get("internal_api"):
        label = deployment.dns_label("internal_api")
        lines.append(f"{ip} {hostname}.{label}.{deployment.domain} {hostname}.{label}")
    return lines


def hosts_file(shared: Sequence[str], own: Sequence[str]) -> FileSpec:
    """A node's /etc/hosts: the control plane's names, then its own (once each).

    Not its site's other nodes: nothing a node runs reaches a peer of its site by name
    (nova-compute's live migration goes to the peer's ``live_migration_inbound_addr``,
    an address), and listing them would make a site of N nodes hold N x N lines.
    """
    lines = dict.fromkeys([*shared, *own])
    # join_lines refuses an entry that would start another line (a domain, name or an
    # imported export's entry holding a line break): validation should have caught it
    return FileSpec(content=HOSTS_HEADER + join_lines(list(lines), "/etc/hosts"), mode="0644")


def _node_plans(
    deployment: Deployment,
    site: Site,
    nodes: list[Node],
    network: SiteNetworkPlan,
    outputs: ControlPlaneOutputs,
) -> tuple[NodePlan, ...]:
    plans = []
    first_of_role: dict[str, str] = {}
    for node in nodes:
        addresses = network.nodes[node.hostname].addresses
        services = node_services(node.role, site)
        bootstrap = first_of_role.setdefault(node.role, node.hostname) == node.hostname
        ctx = RenderContext(
            deployment=deployment,
            site=site,
            network=network,
            hostname=node.hostname,
            fqdn=fqdn(deployment, node.hostname),
            addresses=addresses,
            outputs=outputs,
            bootstrap=bootstrap,
        )
        own = own_hosts_entries(deployment, node.hostname, addresses)
        files: dict[str, FileSpec] = {"/etc/hosts": hosts_file(outputs.hosts_entry, own)}
        units = [UnitPlan(service="host", files=("/etc/hosts",))]
        for name in services:
            svc = service(name)
            rendered = svc.files(ctx)
            files.update(rendered)
            units.append(
                UnitPlan(
                    service=name,
                    files=tuple(sorted(rendered)),
                    dirs=svc.dirs(ctx),
                    steps=tuple(s for s in svc.steps(ctx) if bootstrap or not s.bootstrap_only),
                    processes=svc.processes(ctx),
                    packages=svc.packages,
                    packaged_units=svc.packaged_units,
                    needs=svc.needs,
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
    node_plans = _node_plans(deployment, site, nodes, network, outputs)
    return StackPlan(
        deployment=deployment.name,
        site=site.name,
        kind=site.kind,
        az=site.az,
        input_digest=site_input_digest(
            deployment, site_model_digest(site), None, control_plane_context(deployment)
        ),
        network=network,
        nodes=node_plans,
        hosts_entries=tuple(outputs.hosts_entry),
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
    node_plans = _node_plans(deployment, site, nodes, network, outputs)
    return StackPlan(
        deployment=deployment.name,
        site=site.name,
        kind=site.kind,
        az=site.az,
        input_digest=site_input_digest(deployment, site_model_digest(site), export.digest),
        network=network,
        nodes=node_plans,
        hosts_entries=tuple(outputs.hosts_entry),
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
