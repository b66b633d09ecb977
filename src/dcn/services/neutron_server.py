"""Neutron server (API under gunicorn) with ML2 and no mechanism drivers or agents.

Lab notes: nova needs neutron to list a server's ports, and ML2 without mechanism
drivers and agents is enough for servers booted without NICs. Tenant networks are
provider networks unless the site tunnels (``sdn.tunnelling``).
"""

from __future__ import annotations

from typing import Any

from dcn.plan.types import DirSpec, FileSpec, ProcessSpec, StepSpec
from dcn.services.base import CatalogService, Database, Endpoint, Identity, Probe, RenderContext
from dcn.services.common import (
    authtoken,
    db_connection,
    manage,
    messaging_sections,
    password_auth,
    region,
    transport_url,
)
from dcn.services.paste import paste_file
from dcn.services.render import config_file, ini_file
from dcn.services.wsgi import WsgiApi

CONFDIR = "/etc/neutron"
CONF = config_file(f"{CONFDIR}/neutron.conf")
ML2_CONF = config_file(f"{CONFDIR}/plugins/ml2/ml2_conf.ini")
STATE = "/var/lib/neutron"
VNI_RANGES = "1:1000"
ENDPOINT = Endpoint("Neutron", 9696)
DATABASE = Database("neutron", "NeutronDbPassword", ("neutron",))
IDENTITY = Identity("neutron", "network", ENDPOINT, "neutron", "NeutronPassword")

API = WsgiApi(
    name="neutron-server",
    app="neutron.wsgi.api:application",
    endpoint=ENDPOINT,
    confdir=CONFDIR,
    env={"OS_NEUTRON_CONFIG_DIR": CONFDIR},
)


def neutron_conf(ctx: RenderContext) -> FileSpec:
    return ini_file(
        ctx,
        CONF,
        {
            "DEFAULT": {
                "host": ctx.hostname,
                "core_plugin": "ml2",
                "service_plugins": "",
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


def ml2_sections(ctx: RenderContext) -> dict[str, dict[str, Any]]:
    """Provider networks (flat, vlan); a tunnelling site adds geneve (OVN) or vxlan."""
    sdn = ctx.site.sdn
    tunnel = ("geneve" if sdn.mechanism == "ovn" else "vxlan") if sdn.tunnelling else None
    sections: dict[str, dict[str, Any]] = {
        "ml2": {
            "type_drivers": ["flat", "vlan", *([tunnel] if tunnel else [])],
            "project_network_types": [tunnel] if tunnel else "",  # was tenant_network_types
            "mechanism_drivers": "",
            "extension_drivers": "",
        },
        "ml2_type_flat": {"flat_networks": "*"},
    }
    if tunnel:
        sections[f"ml2_type_{tunnel}"] = {"vni_ranges": VNI_RANGES}
    return sections


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    return {
        CONF: neutron_conf(ctx),
        ML2_CONF: ini_file(ctx, ML2_CONF, ml2_sections(ctx)),
        f"{CONFDIR}/api-paste.ini": paste_file("neutron-api-paste.ini"),
        **API.files(ctx),
    }


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (API.process(ctx),)


def dirs(ctx: RenderContext) -> tuple[DirSpec, ...]:
    return (DirSpec(f"{STATE}/tmp", mode="0750"), DirSpec("/var/log/neutron", mode="0750"))


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
    return (StepSpec("db-upgrade", command),)


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
)
