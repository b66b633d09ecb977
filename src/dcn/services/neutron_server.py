"""Neutron server with ML2/OVN: the API under gunicorn, the periodic workers and the
OVN maintenance worker (since 2025.1 the API runs only under a WSGI server, and these
companions run as their own processes; ML2/OVN has no RPC agents, so no RPC server).

Ports bind on OVN chassis (each edge compute, named as nova's host); provider networks
are flat or VLAN on the sites' physical networks, and geneve project networks exist
only where a site tunnels (``sdn.tunnelling``). Segments (routed provider networks:
one segment per site) and OVN's router are the service plugins.
"""

from __future__ import annotations

from typing import Any

from dcn.model.description import ProviderNetwork
from dcn.plan.types import DirSpec, FileSpec, ProcessSpec, StepSpec
from dcn.services.base import CatalogService, Database, Endpoint, Identity, Probe, RenderContext
from dcn.services.common import (
    BACKENDS,
    authtoken,
    db_connection,
    manage,
    messaging_sections,
    oslo_program,
    ovn_connection,
    password_auth,
    region,
    single_process_file,
    transport_url,
)
from dcn.services.ovn_central import NB_PORT, SB_PORT
from dcn.services.paste import paste_file
from dcn.services.render import config_file, ini_file
from dcn.services.wsgi import WsgiApi

CONFDIR = "/etc/neutron"
CONF = config_file(f"{CONFDIR}/neutron.conf")
ML2_CONF = config_file(f"{CONFDIR}/plugins/ml2/ml2_conf.ini")
STATE = "/var/lib/neutron"
VNI_RANGES = "1:65536"
#: geneve header room OVN needs (its metadata option)
GENEVE_HEADER = 38
SERVICE_PLUGINS = ("ovn-router", "segments")
#: ML2/OVN's companions of the API, each its own process reading both files
WORKERS = ("neutron-periodic-workers", "neutron-ovn-maintenance-worker")
ENDPOINT = Endpoint("Neutron", 9696)
DATABASE = Database("neutron", "NeutronDbPassword", ("neutron",))
IDENTITY = Identity("neutron", "network", ENDPOINT, "neutron", "NeutronPassword")

API_WORKERS = 1
API = WsgiApi(
    name="neutron-server",
    app="neutron.wsgi.api:application",
    endpoint=ENDPOINT,
    confdir=CONFDIR,
    workers=API_WORKERS,
    # ML2/OVN's hash ring asks the WSGI server how many API workers there are (uWSGI,
    # mod_wsgi or this variable); under gunicorn it finds none and drops every OVN
    # event it should handle (chassis -> segment host mappings: "Host ... is not
    # connected to any segments" for a server on a routed provider network)
    env={"OS_NEUTRON_CONFIG_DIR": CONFDIR, "ASGI_WORKERS": str(API_WORKERS)},
)


def neutron_conf(ctx: RenderContext) -> FileSpec:
    return ini_file(
        ctx,
        CONF,
        {
            "DEFAULT": {
                "host": ctx.hostname,
                "core_plugin": "ml2",
                "service_plugins": list(SERVICE_PLUGINS),
                "auth_strategy": "keystone",
                "api_paste_config": f"{CONFDIR}/api-paste.ini",
                "state_path": STATE,
                "transport_url": transport_url(ctx),
            },
            "database": {
                "connection": db_connection(ctx, DATABASE.user, DATABASE.secret, "neutron")
            },
            "keystone_authtoken": authtoken(ctx, IDENTITY.user, IDENTITY.secret),
            # port status events to nova (notify_nova_on_port_*), as the nova user
            "nova": {
                **password_auth(ctx, "nova", "NovaPassword"),
                "region_name": region(ctx),
                "endpoint_type": "internal",
            },
            "oslo_concurrency": {"lock_path": f"{STATE}/tmp"},
            **messaging_sections(ctx),
        },
    )


def vlan_physnets(ctx: RenderContext) -> list[str]:
    """Physical networks of the workload networks' VLAN segments (every site's: the
    control plane's neutron creates them all)."""
    return sorted(
        {
            seg.physical_network
            for net in ctx.deployment.workload_networks
            if isinstance(net, ProviderNetwork)
            for seg in net.segments
            if seg.network_type == "vlan"
        }
    )


def ml2_sections(ctx: RenderContext) -> dict[str, dict[str, Any]]:
    """ML2 with the OVN mechanism driver: flat and VLAN provider networks on any physical
    network, geneve for project networks.

    A project can always create its own (geneve) networks, routers and ports: they are
    API objects of the control plane's OVN. Their traffic reaches a compute only where
    its chassis joins the geneve mesh, which is what a site's ``sdn.tunnelling``
    chooses (the seed advises against it at the edge: DCN401).
    """
    return {
        "ml2": {
            "type_drivers": ["geneve", "flat", "vlan"],
            "project_network_types": ["geneve"],  # was tenant_network_types
            "mechanism_drivers": "ovn",
            "extension_drivers": "port_security",
            "overlay_ip_version": 4,
        },
        "ml2_type_flat": {"flat_networks": "*"},
        # a physnet without a range: any VLAN id on it, for provider networks
        "ml2_type_vlan": {"network_vlan_ranges": vlan_physnets(ctx)},
        "ml2_type_geneve": {"vni_ranges": VNI_RANGES, "max_header_size": GENEVE_HEADER},
        "ovn": {
            "ovn_nb_connection": ovn_connection(ctx, NB_PORT),
            "ovn_sb_connection": ovn_connection(ctx, SB_PORT),
            "ovn_l3_scheduler": "leastloaded",
            # a metadata port per network for the metadata agents (sites with a
            # metadata route; elsewhere instances read their config drive)
            "ovn_metadata_enabled": True,
        },
    }


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    return {
        CONF: neutron_conf(ctx),
        ML2_CONF: ini_file(ctx, ML2_CONF, ml2_sections(ctx)),
        f"{CONFDIR}/api-paste.ini": paste_file("neutron-api-paste.ini"),
        **API.files(ctx),
        **single_process_file(),
    }


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    conf = ("--config-file", CONF, "--config-file", ML2_CONF)
    # each runs one worker process (neutron's own count): in one process, no master
    workers = tuple(
        ProcessSpec(
            name=name,
            command=oslo_program(ctx, name, *conf, one_worker=True),
            workdir=STATE,
            after=BACKENDS,
        )
        for name in WORKERS
    )
    return (API.process(ctx), *workers)


def dirs(ctx: RenderContext) -> tuple[DirSpec, ...]:
    return (
        DirSpec(STATE, mode="0750"),
        DirSpec(f"{STATE}/tmp", mode="0750"),
        DirSpec("/var/log/neutron", mode="0750"),
    )


def steps(ctx: RenderContext) -> tuple[StepSpec, ...]:
    command = manage(
        ctx,
        "neutron-db-manage",
        "--config-file",
        f"{CONFDIR}/neutron.conf",
        "--config-file",
        f"{CONFDIR}/plugins/ml2/ml2_conf.ini",
        "upgrade",
        "heads",
    )
    return (StepSpec("db-upgrade", command, bootstrap_only=True),)


SERVICE = CatalogService(
    name="neutron_server",
    render_files=files,
    render_processes=processes,
    render_dirs=dirs,
    render_steps=steps,
    tripleo=("neutron_api",),
    database=DATABASE,
    identity=IDENTITY,
    endpoints=(ENDPOINT,),
    # port events go to nova as the nova user; the broker's password
    references=("NovaPassword", "RabbitPassword"),
    probes=(Probe("neutron", endpoint=ENDPOINT.internal),),
    needs=(*BACKENDS, "ovn_central"),
)
