"""Placement API under gunicorn (resource providers; nova's scheduler asks it for hosts)."""

from __future__ import annotations

from dcn.plan.types import FileSpec, ProcessSpec, StepSpec
from dcn.services.base import CatalogService, Database, Endpoint, Identity, Probe, RenderContext
from dcn.services.common import BACKENDS, authtoken, db_connection, manage
from dcn.services.render import config_file, ini_file
from dcn.services.wsgi import WsgiApi

CONFDIR = "/etc/placement"
CONF = config_file(f"{CONFDIR}/placement.conf")
ENDPOINT = Endpoint("Placement", 8778)
DATABASE = Database("placement", "PlacementDbPassword", ("placement",))
IDENTITY = Identity("placement", "placement", ENDPOINT, "placement", "PlacementPassword")

API = WsgiApi(
    name="placement-api",
    app="placement.wsgi.api:application",
    endpoint=ENDPOINT,
    confdir=CONFDIR,
    env={"OS_PLACEMENT_CONFIG_DIR": CONFDIR},
)


def placement_conf(ctx: RenderContext) -> FileSpec:
    return ini_file(
        ctx,
        CONF,
        {
            "placement_database": {
                "connection": db_connection(ctx, DATABASE.user, DATABASE.secret, "placement")
            },
            "api": {"auth_strategy": "keystone"},
            "keystone_authtoken": authtoken(ctx, IDENTITY.user, IDENTITY.secret),
        },
    )


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    return {CONF: placement_conf(ctx), **API.files(ctx)}


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (API.process(ctx),)


def steps(ctx: RenderContext) -> tuple[StepSpec, ...]:
    conf = f"{CONFDIR}/placement.conf"
    return (
        StepSpec(
            "db-sync",
            manage(ctx, "placement-manage", "--config-file", conf, "db", "sync"),
            bootstrap_only=True,
        ),
    )


SERVICE = CatalogService(
    name="placement_api",
    render_files=files,
    render_processes=processes,
    render_steps=steps,
    tripleo=("placement",),
    database=DATABASE,
    identity=IDENTITY,
    endpoints=(ENDPOINT,),
    probes=(Probe("placement", endpoint=ENDPOINT.internal),),
    needs=BACKENDS,
)
