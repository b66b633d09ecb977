"""Glance API under gunicorn with a local file store (nova reads image metadata from it)."""

from __future__ import annotations

from dcn.plan.types import DirSpec, FileSpec, ProcessSpec, StepSpec
from dcn.services.base import CatalogService, Database, Endpoint, Identity, Probe, RenderContext
from dcn.services.common import (
    BACKENDS,
    NOTIFICATIONS_OFF,
    api_port,
    authtoken,
    db_connection,
    manage,
)
from dcn.services.paste import paste_file
from dcn.services.render import config_file, ini_file, url_host
from dcn.services.wsgi import WsgiApi

CONFDIR = "/etc/glance"
CONF = config_file(f"{CONFDIR}/glance-api.conf")
DATADIR = "/var/lib/glance"
ENDPOINT = Endpoint("Glance", 9292)
DATABASE = Database("glance", "GlanceDbPassword", ("glance",))
IDENTITY = Identity("glance", "image", ENDPOINT, "glance", "GlancePassword")

API = WsgiApi(
    name="glance-api",
    app="glance.wsgi.api:application",
    endpoint=ENDPOINT,
    confdir=CONFDIR,
    env={"OS_GLANCE_CONFIG_DIR": CONFDIR},
)


def glance_api_conf(ctx: RenderContext) -> FileSpec:
    port = api_port(ctx, ENDPOINT.internal, API.port)
    return ini_file(
        ctx,
        CONF,
        {
            "DEFAULT": {
                "enabled_backends": "file:file",
                # lab notes: glance refuses to start without it (centralised image cache)
                "worker_self_reference_url": f"http://{url_host(ctx.internal_ip)}:{port}",
            },
            "database": {
                "connection": db_connection(ctx, DATABASE.user, DATABASE.secret, "glance")
            },
            "keystone_authtoken": authtoken(ctx, IDENTITY.user, IDENTITY.secret),
            "paste_deploy": {
                "flavor": "keystone",
                "config_file": f"{CONFDIR}/glance-api-paste.ini",
            },
            "glance_store": {"default_backend": "file"},
            "file": {"filesystem_store_datadir": f"{DATADIR}/images/"},
            # reserved stores glance uses for imports and tasks when enabled_backends is set
            "os_glance_staging_store": {"filesystem_store_datadir": f"{DATADIR}/staging/"},
            "os_glance_tasks_store": {"filesystem_store_datadir": f"{DATADIR}/tasks_work_dir/"},
            "oslo_concurrency": {"lock_path": f"{DATADIR}/tmp"},
            # glance sends nothing over RPC; without notifications it needs no broker
            "oslo_messaging_notifications": NOTIFICATIONS_OFF,
        },
    )


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    return {
        CONF: glance_api_conf(ctx),
        f"{CONFDIR}/glance-api-paste.ini": paste_file("glance-api-paste.ini"),
        **API.files(ctx),
    }


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (API.process(ctx),)


def dirs(ctx: RenderContext) -> tuple[DirSpec, ...]:
    return tuple(
        DirSpec(f"{DATADIR}/{d}", mode="0750")
        for d in ("images", "staging", "tasks_work_dir", "tmp")
    )


def steps(ctx: RenderContext) -> tuple[StepSpec, ...]:
    conf = f"{CONFDIR}/glance-api.conf"
    # the metadata definitions glance ships (resource types, namespaces), as every
    # deployment tool loads them; again for a new release, which may bring new ones
    metadefs = f"{ctx.venv}/etc/glance/metadefs"
    return (
        StepSpec(
            "db-sync",
            manage(ctx, "glance-manage", "--config-file", conf, "db_sync"),
            bootstrap_only=True,
        ),
        StepSpec(
            "load-metadefs",
            manage(ctx, "glance-manage", "--config-file", conf, "db_load_metadefs", metadefs),
            bootstrap_only=True,
        ),
    )


SERVICE = CatalogService(
    name="glance_api",
    render_files=files,
    render_processes=processes,
    render_dirs=dirs,
    render_steps=steps,
    database=DATABASE,
    identity=IDENTITY,
    endpoints=(ENDPOINT,),
    probes=(Probe("glance", endpoint=ENDPOINT.internal),),
    needs=BACKENDS,
)
