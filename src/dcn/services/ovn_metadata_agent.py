"""neutron-ovn-metadata-agent on the computes of sites that route instances to the
metadata service (``instance_metadata.metadata_route``); config-drive sites run none.

Neutron (``[ovn] ovn_metadata_enabled``) gives every network a metadata port; the agent
plugs it into br-int as a namespace ``ovnmeta-<network>`` whose haproxy answers
169.254.169.254 and hands requests to the agent over a UNIX socket; the agent adds the
instance's id, signed with the shared secret, and forwards them to nova's metadata API
(the ``NovaMetadataInternal`` entry of the control plane's outputs). Everything it reads
is one file: a compute has no neutron.conf. ``host`` is nova's host name, as the
chassis is named.

It runs as root, so no root helper: commands run directly. oslo.privsep still starts
its helper through ``sudo privsep-helper`` when the root helper is empty (its default
prefix), and sudo's ``secure_path`` would not find the virtualenv's helper (nor is sudo
on every host), so each privsep context of neutron is told the helper's full path.

A second process, ``ovnmeta-offload`` (`dcn.node.ovnmeta_offload`), turns TX checksum
offload off on the metadata namespaces' veths where br-int uses the userspace
datapath, without which TCP to the metadata service fails there.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

from dcn.model.description import Site
from dcn.node import source
from dcn.plan.types import DirSpec, FileSpec, ProcessSpec, secret_ref
from dcn.services.base import CatalogService, RenderContext
from dcn.services.common import api_port, endpoint, ovn_connection
from dcn.services.nova import METADATA_SECRET
from dcn.services.nova_metadata import ENDPOINT
from dcn.services.ovn_central import SB_PORT
from dcn.services.render import config_file, file_spec, ini_file

CONFDIR = "/etc/neutron"
CONF = config_file(f"{CONFDIR}/neutron_ovn_metadata_agent.ini")
STATE = "/var/lib/neutron"
#: Debian's Open vSwitch database socket
OVSDB = "unix:/var/run/openvswitch/db.sock"
#: neutron's privsep contexts (`neutron.privileged`), each its own config section
PRIVSEP_SECTIONS = (
    "privsep",
    "privsep_dhcp_release",
    "privsep_ovs_vsctl",
    "privsep_namespace",
    "privsep_conntrack",
    "privsep_link",
)
OFFLOAD = "/var/lib/dcn/ovnmeta_offload.py"
#: the node's Python for dcn's node programs (standard library only)
NODE_PYTHON = "/usr/bin/python3"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def metadata_routed(site: Site) -> bool:
    """Whether a site's instances reach the metadata service (else: config drive)."""
    return site.instance_metadata.metadata_route


def nova_metadata(ctx: RenderContext) -> tuple[str, int, str]:
    """Host, port and protocol of nova's metadata API, from the control plane's outputs."""
    entry = endpoint(ctx, ENDPOINT.internal)
    url = urlsplit(entry["uri_no_suffix"])
    host = entry.get("host_nobrackets") or url.hostname or ""
    protocol = entry.get("protocol") or url.scheme or "http"
    return host, api_port(ctx, ENDPOINT.internal, ENDPOINT.port), protocol


def agent_conf(ctx: RenderContext) -> FileSpec:
    host, port, protocol = nova_metadata(ctx)
    helper = f"{ctx.venv}/bin/privsep-helper --config-file {CONF}"
    spec = ini_file(
        ctx,
        CONF,
        {
            "DEFAULT": {
                "host": ctx.hostname,
                "state_path": STATE,
                "nova_metadata_host": host,
                "nova_metadata_port": port,
                "nova_metadata_protocol": protocol,
                "metadata_proxy_shared_secret": secret_ref(METADATA_SECRET),
            },
            # root already: commands run as they are
            "agent": {"root_helper": ""},
            "ovs": {"ovsdb_connection": OVSDB},
            "ovn": {"ovn_sb_connection": ovn_connection(ctx, SB_PORT)},
            **{section: {"helper_command": helper} for section in PRIVSEP_SECTIONS},
        },
    )
    # read by root only: the agent and its privsep helper
    return dataclasses.replace(spec, mode="0600")


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    return {CONF: agent_conf(ctx), OFFLOAD: file_spec(source("ovnmeta_offload.py"), mode="0755")}


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    # the venv first: neutron runs its own tools by name
    env = {"PATH": f"{ctx.venv}/bin:{SYSTEM_PATH}"}
    after = ("openvswitch", "ovn-controller")
    return (
        ProcessSpec(
            name="neutron-ovn-metadata-agent",
            command=(f"{ctx.venv}/bin/neutron-ovn-metadata-agent", "--config-file", CONF),
            workdir=STATE,
            env=env,
            after=after,
        ),
        ProcessSpec(name="ovnmeta-offload", command=(NODE_PYTHON, OFFLOAD), after=after),
    )


def dirs(ctx: RenderContext) -> tuple[DirSpec, ...]:
    return (
        DirSpec(STATE, mode="0750"),
        DirSpec(f"{STATE}/external", mode="0750"),
        DirSpec(f"{STATE}/external/pids", mode="0750"),
    )


SERVICE = CatalogService(
    name="ovn_metadata_agent",
    render_files=files,
    render_processes=processes,
    render_dirs=dirs,
    tripleo=("ovn_metadata",),
    references=(METADATA_SECRET,),
    # haproxy: one per metadata namespace, spawned by the agent; iptables: the agent's
    # checksum rule on netdev bridges; ethtool: ovnmeta-offload
    packages=("haproxy", "iptables", "ethtool"),
    # the agent starts its own haproxy per namespace; Debian's haproxy.service stays off
    packaged_units=("haproxy.service",),
    runs_at=metadata_routed,
    needs=("ovs", "ovn_controller"),
)
