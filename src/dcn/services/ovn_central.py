"""OVN central (Debian's ovn-central): the northbound and southbound databases and
ovn-northd, on the control plane.

Neutron's ML2/OVN driver writes the northbound database; ovn-northd translates it into
the southbound one, which every edge chassis (ovn-controller) reads over the internal
API network. Debian's ``ovn-central.service`` groups the three daemons (each
``PartOf=`` it); dcn writes ``/etc/default/ovn-central`` (the databases listen on the
node's internal API address, where clients find them: ``ovn_dbs_node_ips``) and
restarts the group when that file changes.
"""

from __future__ import annotations

import shlex

from dcn.plan.types import FileSpec, ProcessSpec
from dcn.services.base import CatalogService, RenderContext
from dcn.services.common import cluster_ips
from dcn.services.render import file_spec, url_host

NB_PORT = 6641
SB_PORT = 6642
DEFAULTS = "/etc/default/ovn-central"
UNIT = "ovn-central.service"
TRIPLEO = "ovn_dbs"


def clustered(ctx: RenderContext) -> list[str]:
    """A RAFT cluster of the databases over every controller: this member's options
    (the bootstrap node creates the cluster, the others join it through it) and
    ovn-northd reaching every member (one northd is active, by the database's lock)."""
    members = cluster_ips(ctx, TRIPLEO)
    if len(members) < 2:
        return []
    options = [
        f"--db-nb-cluster-local-addr={ctx.internal_ip}",
        f"--db-sb-cluster-local-addr={ctx.internal_ip}",
        "--ovn-northd-nb-db=" + ",".join(f"tcp:{url_host(ip)}:{NB_PORT}" for ip in members),
        "--ovn-northd-sb-db=" + ",".join(f"tcp:{url_host(ip)}:{SB_PORT}" for ip in members),
    ]
    if not ctx.bootstrap:
        first = ctx.outputs.all_nodes_config[f"{TRIPLEO}_bootstrap_node_ip"]
        options += [f"--db-nb-cluster-remote-addr={first}", f"--db-sb-cluster-remote-addr={first}"]
    return options


def defaults(ctx: RenderContext) -> FileSpec:
    """``OVN_CTL_OPTS`` for ovn-ctl: plain TCP on the internal API network (the
    databases hold no secret; TLS between chassis and databases is not done yet)."""
    listen = ctx.internal_ip
    options = [
        f"--db-nb-addr={listen}",
        f"--db-nb-port={NB_PORT}",
        "--db-nb-create-insecure-remote=yes",
        f"--db-sb-addr={listen}",
        f"--db-sb-port={SB_PORT}",
        "--db-sb-create-insecure-remote=yes",
        *clustered(ctx),
    ]
    text = (
        "# managed by dcn: ovn-ctl options of Debian's ovn-central units\n"
        f"OVN_CTL_OPTS={shlex.quote(' '.join(options))}\n"
    )
    return file_spec(text)


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    return {DEFAULTS: defaults(ctx)}


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (ProcessSpec(name="ovn-central", packaged_unit=UNIT, group=True, health_port=SB_PORT),)


SERVICE = CatalogService(
    name="ovn_central",
    render_files=files,
    render_processes=processes,
    tripleo=("ovn_dbs",),
    packages=("ovn-central",),
    packaged_units=(UNIT,),
    needs=(),
)
