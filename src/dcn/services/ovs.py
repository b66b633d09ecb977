"""Open vSwitch on a compute (Debian's openvswitch-switch), set up as an OVN chassis.

Debian's ``openvswitch-switch.service`` groups ovsdb-server and ovs-vswitchd (each
``PartOf=`` it). Once they run, the ``chassis`` step writes what ovn-controller reads
from the local database: where the southbound database is, the tunnel endpoint (the
node's internal API address, geneve), the chassis name (nova's host name, which is
what neutron binds ports to), the datapath of its bridges, and the bridge of the
site's provider network (``ovn-bridge-mappings``) with the site's provider NIC as its
port (``sdn.provider_interface``).

Datapath (``sdn.datapath``): ``system`` (the kernel's openvswitch module) or ``netdev``
(userspace); ``auto``, the default, decides on the node when the step runs: the
kernel's where the module is loaded or loads, else userspace (a lab node: a container
of a kernel without the module, whose /proc has no modules file, so ovs-ctl skips its
modprobe too).
"""

from __future__ import annotations

from dcn.model.description import ProviderNetwork, physnet_of
from dcn.plan.types import FileSpec, ProcessSpec, StepSpec
from dcn.services.base import CatalogService, RenderContext
from dcn.services.common import ovn_connection
from dcn.services.ovn_central import SB_PORT
from dcn.services.render import file_spec

UNIT = "openvswitch-switch.service"
VSCTL = "/usr/bin/ovs-vsctl"
PROVIDER_BRIDGE = "br-provider"
#: ``auto``: the kernel's datapath if its module is there or loads, else userspace
_AUTO = (
    "dp=netdev; if [ -e /sys/module/openvswitch ] || "
    "{ [ -e /proc/modules ] && modprobe -q openvswitch; }; then dp=system; fi"
)
#: the chassis step: choose the datapath ($dp), then one ovs-vsctl transaction of the
#: settings given as arguments plus the two that name the datapath
_CHASSIS = (
    '{choose}; exec {vsctl} "$@" -- set Bridge {bridge} datapath_type="$dp" '
    '-- set Open_vSwitch . external_ids:ovn-bridge-datapath-type="$dp"'
)


def physnets(ctx: RenderContext) -> tuple[str, ...]:
    """The physical networks this site's computes bridge: those of the site's segments
    of the workload networks, else the site's own default (``physnet-<site>``)."""
    site = ctx.site.name
    found = {
        seg.physical_network
        for net in ctx.deployment.workload_networks
        if isinstance(net, ProviderNetwork)
        for seg in net.segments
        if seg.site == site
    }
    return tuple(sorted(found)) or (physnet_of(site),)


def chassis_settings(ctx: RenderContext) -> dict[str, str]:
    """``external_ids`` of the local Open_vSwitch record, as ovn-controller reads them
    (and ``ovn-bridge-datapath-type``, which the step sets from the datapath)."""
    return {
        "system-id": ctx.hostname,
        "hostname": ctx.hostname,
        "ovn-remote": ovn_connection(ctx, SB_PORT),
        "ovn-encap-type": "geneve",
        "ovn-encap-ip": ctx.internal_ip,
        "ovn-bridge": "br-int",
        "ovn-bridge-mappings": ",".join(f"{p}:{PROVIDER_BRIDGE}" for p in physnets(ctx)),
    }


DEFAULTS = "/etc/default/openvswitch-switch"


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    """ovs-ctl's options: none beyond Debian's; the file is dcn's so a change to it
    (and so to how Open vSwitch starts) restarts the group."""
    return {DEFAULTS: file_spec("# managed by dcn: ovs-ctl options\nOVS_CTL_OPTS=''\n")}


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (ProcessSpec(name="openvswitch", packaged_unit=UNIT, group=True),)


def steps(ctx: RenderContext) -> tuple[StepSpec, ...]:
    """The provider bridge and the chassis settings, in one transaction; runs again
    whenever a value changes (its command holds them all). The values are arguments
    of the shell, never part of its script."""
    chosen = ctx.site.sdn.datapath
    choose = _AUTO if chosen == "auto" else f"dp={chosen}"
    script = _CHASSIS.format(choose=choose, vsctl=VSCTL, bridge=PROVIDER_BRIDGE)
    ids = [f'external_ids:{k}="{v}"' for k, v in sorted(chassis_settings(ctx).items())]
    uplink = ctx.site.sdn.provider_interface
    # the NIC carrying the site's provider segments becomes a port of br-provider
    port = ("--", "--may-exist", "add-port", PROVIDER_BRIDGE, uplink) if uplink else ()
    args = (
        *("--may-exist", "add-br", PROVIDER_BRIDGE, *port),
        *("--", "set", "Open_vSwitch", ".", *ids),
    )
    command = ("/bin/sh", "-c", script, "dcn-chassis", *args)
    return (StepSpec(name="chassis", command=command, phase="post"),)


SERVICE = CatalogService(
    name="ovs",
    render_files=files,
    render_processes=processes,
    render_steps=steps,
    tripleo=("ovs",),
    packages=("openvswitch-switch",),
    packaged_units=(UNIT,),
    needs=(),
)
