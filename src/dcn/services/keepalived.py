"""keepalived (Debian package): the control plane's VIPs on a cluster of controllers.

One VRRP instance per network with a VIP (internal API, public, ctlplane), all in one
sync group so that every VIP moves together to the node whose haproxy serves them.
Priorities follow the controllers' order in the plan (the bootstrap node first);
every instance starts as BACKUP with ``nopreempt``, so a controller that comes back
does not take the VIPs back (which would be a second outage). A node whose haproxy is
not running gives its VIPs up (``track_script``).

keepalived needs each instance's interface by name; the plan knows addresses, not
NIC names, so a step asks the node which interface holds each of its addresses and
writes them as keepalived definitions (``$IF_<network>``) the config includes.
Only on a clustered control plane (`Site.clustered`); a single controller holds the
VIPs itself.
"""

from __future__ import annotations

import hashlib

from dcn.plan.types import FileSpec, ProcessSpec, StepSpec
from dcn.services.base import CatalogService, RenderContext
from dcn.services.render import file_spec

UNIT = "keepalived.service"
HAPROXY_UNIT = "haproxy.service"
CONFIG = "/etc/keepalived/keepalived.conf"
INTERFACES = "/etc/keepalived/dcn-interfaces.conf"
TRIPLEO = "keepalived"
#: seconds between adverts: a lost master is noticed after about three
ADVERT_INTERVAL = 1
#: writes ``$IF_<network>=<interface>`` for every ``network=address`` argument
FIND_INTERFACES = """\
import json, subprocess, sys
lines = ["# managed by dcn: the interface holding each network's address"]
for pair in sys.argv[2:]:
    net, address = pair.split("=", 1)
    shown = subprocess.run(["ip", "-j", "addr", "show", "to", address],
                           capture_output=True, text=True, check=True).stdout
    links = json.loads(shown or "[]")
    if not links:
        sys.exit(f"no interface of this node holds {address} (network {net})")
    lines.append(f"$IF_{net}={links[0]['ifname']}")
with open(sys.argv[1], "w") as out:
    out.write("\\n".join(lines) + "\\n")
"""


def router_id(ctx: RenderContext, net: str) -> int:
    """A VRRP router id (1-255) for the network's instance, the same on every node."""
    key = f"{ctx.deployment.name}/{ctx.site.name}/{net}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:2], "big") % 255 + 1


def priority(ctx: RenderContext) -> int:
    """Higher for nodes earlier in the plan: the bootstrap controller takes the VIPs
    when every node starts at once."""
    names = ctx.outputs.all_nodes_config.get(f"{TRIPLEO}_short_node_names") or [ctx.hostname]
    index = names.index(ctx.hostname) if ctx.hostname in names else len(names)
    return 150 - 10 * index


def vip_networks(ctx: RenderContext) -> list[str]:
    """The networks of this node that have a VIP, in name order."""
    return sorted(net for net in ctx.network.vips if net in ctx.addresses)


def keepalived_conf(ctx: RenderContext) -> FileSpec:
    nets = vip_networks(ctx)
    lines = [
        "# managed by dcn: the control plane's VIPs (dcn.services.keepalived)",
        "global_defs {",
        f"    router_id {ctx.hostname}",
        "    vrrp_garp_master_delay 1",
        "    vrrp_garp_master_refresh 30",
        "    script_user root",
        "    enable_script_security",
        "}",
        f"include {INTERFACES}",
        # not track_process: it needs the kernel's process events, which a container
        # (a lab node) does not get
        "vrrp_script dcn_haproxy {",
        f'    script "/usr/bin/systemctl is-active --quiet {HAPROXY_UNIT}"',
        "    interval 1",
        "    fall 2",
        "    rise 1",
        "}",
        "vrrp_sync_group dcn_vips {",
        "    group {",
        *(f"        {net}" for net in nets),
        "    }",
        "}",
    ]
    for net in nets:
        vip = ctx.network.vips[net]
        prefix = 128 if ":" in vip else 32
        lines += [
            f"vrrp_instance {net} {{",
            "    state BACKUP",
            "    nopreempt",
            f"    interface $IF_{net}",
            f"    virtual_router_id {router_id(ctx, net)}",
            f"    priority {priority(ctx)}",
            f"    advert_int {ADVERT_INTERVAL}",
            "    virtual_ipaddress {",
            f"        {vip}/{prefix}",
            "    }",
            "    track_script {",
            "        dcn_haproxy",
            "    }",
            "}",
        ]
    return file_spec("\n".join(lines) + "\n")


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    return {CONFIG: keepalived_conf(ctx)}


def steps(ctx: RenderContext) -> tuple[StepSpec, ...]:
    pairs = [f"{net}={ctx.addresses[net]}" for net in vip_networks(ctx)]
    return (
        StepSpec(
            name="interfaces",
            command=("/usr/bin/python3", "-c", FIND_INTERFACES, INTERFACES, *pairs),
        ),
    )


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (ProcessSpec(name="keepalived", packaged_unit=UNIT, env={"DAEMON_ARGS": ""}),)


SERVICE = CatalogService(
    name="keepalived",
    render_files=files,
    render_processes=processes,
    render_steps=steps,
    packages=("keepalived",),
    packaged_units=(UNIT,),
    runs_at=lambda site: site.clustered,
    needs=(),
)
