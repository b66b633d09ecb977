"""Nova: API, conductor and scheduler on the control plane, nova-compute everywhere.

One function builds what every nova service needs (broker, service user, placement,
neutron, glance); the control plane and compute each extend it once:

- api, conductor and scheduler share ``/etc/nova/nova.conf`` on a controller, so they
  render the same file (databases, token validation, paste config);
- nova-compute never touches a database (it goes through the conductor over the
  broker), so its nova.conf has no ``[database]`` or ``[api_database]`` section and
  an edge receives no database password.

Placement is reached as the ``nova`` service user (it holds the same service role a
``placement`` user would), so ``PlacementPassword`` stays on the control plane. An
edge compute's secrets are NovaPassword, NeutronPassword and RabbitPassword.

The metadata API (`dcn.services.nova_metadata`: its EndpointMap row and probe) runs in
nova-api's process, on its own port: one copy of nova in memory instead of two
(measured: ~115 MiB a controller). It answers only requests neutron's metadata proxies
signed with the shared secret, so that secret is in the controllers' nova.conf and
never in a compute's.
"""

from __future__ import annotations

import shlex

from dcn.plan.types import DirSpec, FileSpec, ProcessSpec, StepSpec, secret_ref
from dcn.services import ini
from dcn.services.base import (
    INTERNAL,
    CatalogService,
    Database,
    Endpoint,
    Identity,
    Probe,
    Processes,
    RenderContext,
)
from dcn.services.common import (
    BACKENDS,
    api_listen,
    authtoken,
    catalog_client,
    cell_db_template,
    cell_mq_template,
    db_connection,
    manage,
    messaging_sections,
    oslo_program,
    password_auth,
    region,
    single_process_file,
    transport_url,
)
from dcn.services.paste import paste_file
from dcn.services.render import config_file, file_spec, ini_file
from dcn.services.wsgi import WsgiApi

#: seconds between nova-scheduler's discoveries of new computes
DISCOVER_INTERVAL = 2

CONFDIR = "/etc/nova"
CONF = config_file(f"{CONFDIR}/nova.conf")
STATE = "/var/lib/nova"
ENDPOINT = Endpoint("Nova", 8774, "/v2.1")
#: what neutron's metadata proxies sign an instance's id with (TripleO's name)
METADATA_SECRET = "NeutronMetadataProxySharedSecret"
#: one user for the API, cell and cell0 databases (cells v2)
DATABASE = Database("nova", "NovaDbPassword", ("nova_api", "nova", "nova_cell0"))
IDENTITY = Identity("nova", "compute", ENDPOINT, "nova", "NovaPassword")

#: TripleO's NovaMetadata: the metadata API, internal only, declared by nova_metadata
METADATA_ENDPOINT = Endpoint("NovaMetadata", 8775, interfaces=(INTERNAL,), service="nova_metadata")
#: the module gunicorn loads: both APIs, told apart by the port a request came in on
APIS_MODULE = f"{CONFDIR}/nova_apis.py"
# OS_NOVA_CONFIG_FILES stays unset: nova's WSGI loader reads api-paste.ini;nova.conf
API = WsgiApi(
    name="nova-api",
    app="nova_apis:application",
    endpoint=ENDPOINT,
    confdir=CONFDIR,
    workers=2,
    also=(METADATA_ENDPOINT,),
)

#: what every nova service's nova.conf references: the nova and neutron users, the broker
COMPUTE_SECRETS = (IDENTITY.secret, "NeutronPassword", "RabbitPassword")
#: a controller's nova.conf adds the database and the metadata proxies' shared secret
CONTROL_PLANE_SECRETS = (*COMPUTE_SECRETS, DATABASE.secret, METADATA_SECRET)


def common_sections(ctx: RenderContext) -> ini.Sections:
    """What every nova service reads: identity of the host, broker, service clients."""
    return {
        "DEFAULT": {
            "host": ctx.hostname,
            "my_ip": ctx.internal_ip,
            "state_path": STATE,
            "transport_url": transport_url(ctx),
            # the description's liveness settings (nova's defaults unless tuned)
            "report_interval": ctx.deployment.liveness.report_interval,
            "service_down_time": ctx.deployment.liveness.service_down_time,
        },
        # tokens of the services' own calls carry the nova user, so long requests
        # (build, migrate) survive a user token expiring mid-way
        "service_user": {
            "send_service_user_token": True,
            **password_auth(ctx, IDENTITY.user, IDENTITY.secret),
        },
        "placement": catalog_client(ctx, IDENTITY.user, IDENTITY.secret),
        "neutron": catalog_client(ctx, "neutron", "NeutronPassword"),
        # glance is called with the user's token; only the catalog lookup is configured
        "glance": {"region_name": region(ctx), "valid_interfaces": "internal"},
        "oslo_concurrency": {"lock_path": f"{STATE}/tmp"},
        **messaging_sections(ctx),
    }


def control_plane_sections(ctx: RenderContext) -> ini.Sections:
    """nova.conf of a controller, shared by nova-api, its metadata API, nova-conductor
    and nova-scheduler."""
    sections = common_sections(ctx)
    return {
        **sections,
        # the metadata API trusts an instance id only with the proxy's signature
        "neutron": {
            **sections["neutron"],
            "service_metadata_proxy": True,
            "metadata_proxy_shared_secret": secret_ref(METADATA_SECRET),
        },
        "api_database": {
            "connection": db_connection(ctx, DATABASE.user, DATABASE.secret, "nova_api")
        },
        "database": {"connection": db_connection(ctx, DATABASE.user, DATABASE.secret, "nova")},
        # nova-scheduler maps new computes into the cell itself (a query every few
        # seconds): an edge's registration waits for it instead of starting nova-manage,
        # a process that costs a small site's deploy a fifth of its CPU (it is still the
        # fallback, `dcn.node.edge_register`)
        "scheduler": {
            "discover_hosts_in_cells_interval": DISCOVER_INTERVAL,
            **({"workers": 1} if one_worker(ctx) else {}),
        },
        **({"conductor": {"workers": 1}} if one_worker(ctx) else {}),
        "keystone_authtoken": authtoken(ctx, IDENTITY.user, IDENTITY.secret),
        "wsgi": {"api_paste_config": f"{CONFDIR}/api-paste.ini"},
    }


def compute_sections(ctx: RenderContext) -> ini.Sections:
    """nova.conf of a compute node: no database, the fake driver with a stable node."""
    sections = common_sections(ctx)
    default = {
        **sections["DEFAULT"],
        # the other fake drivers refuse to restart ("No local node identity found");
        # this one keeps its node identity under state_path
        "compute_driver": "fake.FakeDriverWithoutFakeNodes",
    }
    if ctx.site.instance_metadata.config_drive:
        default["force_config_drive"] = True
    # the availability zone comes from the site's host aggregate, not from here
    return {
        **sections,
        "DEFAULT": default,
        # a peer migrating an instance here connects to this address, not to this host's
        # name: /etc/hosts lists no other compute of the site (it would grow N x N)
        "libvirt": {"live_migration_inbound_addr": ctx.internal_ip},
    }


def one_worker(ctx: RenderContext) -> bool:
    """Whether nova-conductor and nova-scheduler run one worker: on each controller of a
    cluster (three in all, each in one process); else nova's default (one per CPU)."""
    return ctx.site.clustered


def control_plane_files(ctx: RenderContext) -> dict[str, FileSpec]:
    return {
        CONF: ini_file(ctx, CONF, control_plane_sections(ctx)),
        **(single_process_file() if one_worker(ctx) else {}),
    }


def apis_module(ctx: RenderContext) -> FileSpec:
    """The WSGI module of nova-api's process: nova's own entry points, both loaded, and
    the metadata API for requests that came in on its port(s)."""
    ports = sorted({bind.rsplit(":", 1)[1] for bind in api_listen(ctx, METADATA_ENDPOINT)})
    return file_spec(
        "# managed by dcn: nova's compute and metadata APIs in one process (one copy of\n"
        "# nova in memory), told apart by the port a request came in on\n"
        "from nova import monkey_patch\n\n"
        'monkey_patch.patch(backend="threading")\n\n'
        "from nova.api.openstack import wsgi_app  # noqa: E402\n\n"
        f"METADATA_PORTS = frozenset({ports!r})\n"
        'compute = wsgi_app.init_application("osapi_compute", "nova-api-os-compute")\n'
        'metadata = wsgi_app.init_application("metadata", "nova-api-metadata")\n\n\n'
        "def application(environ, start_response):\n"
        '    api = metadata if environ.get("SERVER_PORT") in METADATA_PORTS else compute\n'
        "    return api(environ, start_response)\n"
    )


def api_files(ctx: RenderContext) -> dict[str, FileSpec]:
    return {
        **control_plane_files(ctx),
        f"{CONFDIR}/api-paste.ini": paste_file("nova-api-paste.ini"),
        APIS_MODULE: apis_module(ctx),
        **API.files(ctx),
    }


def compute_files(ctx: RenderContext) -> dict[str, FileSpec]:
    return {CONF: ini_file(ctx, CONF, compute_sections(ctx))}


def daemon(command: str, control_plane: bool = True) -> Processes:
    """A nova daemon reading only nova.conf (it listens on nothing: no health port).
    nova-compute (not `control_plane`) runs in one process by itself."""

    def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
        single = control_plane and one_worker(ctx)
        return (
            ProcessSpec(
                name=command,
                command=oslo_program(ctx, command, "--config-file", CONF, one_worker=single),
                workdir=STATE,
                after=BACKENDS,
            ),
        )

    return processes


def api_processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (API.process(ctx),)


def dirs(ctx: RenderContext) -> tuple[DirSpec, ...]:
    return (
        DirSpec(STATE, mode="0750"),
        DirSpec(f"{STATE}/tmp", mode="0750"),
        DirSpec(f"{STATE}/instances", mode="0750"),
    )


def api_steps(ctx: RenderContext) -> tuple[StepSpec, ...]:
    """Cells v2 from empty: the API database, cell0, one cell, the cell database.

    The cell mappings hold URL templates whose credentials each service takes from
    its own nova.conf: ``map_cell0`` and ``create_cell`` would otherwise store the
    passwords of the day, and a rotated ``NovaDbPassword`` or ``RabbitPassword`` would
    leave nova-api talking to cells with old credentials. A template holds no secret
    (nor do these commands). ``create_cell`` fails when cell1 exists, so it runs only
    when ``list_cells`` lacks it; ``map_cell0`` leaves an existing cell0 as it is.
    Schema syncs run again for a new release.
    """
    nova_manage = f"{ctx.venv}/bin/nova-manage --config-file {CONF}"
    cell0 = cell_db_template(ctx, "nova_cell0")
    db = shlex.quote(cell_db_template(ctx, "nova"))
    mq = shlex.quote(cell_mq_template(ctx))
    return (
        StepSpec(
            "api-db-sync",
            manage(ctx, "nova-manage", "--config-file", CONF, "api_db", "sync"),
            bootstrap_only=True,
        ),
        StepSpec(
            "map-cell0",
            manage(
                ctx,
                "nova-manage",
                "--config-file",
                CONF,
                "cell_v2",
                "map_cell0",
                "--database_connection",
                cell0,
            ),
            bootstrap_only=True,
        ),
        StepSpec(
            "create-cell1",
            (
                "/bin/sh",
                "-c",
                f"{nova_manage} cell_v2 list_cells | grep -q ' cell1 ' || "
                f"{nova_manage} cell_v2 create_cell --name cell1 "
                f"--transport-url {mq} --database_connection {db}",
            ),
            once=True,
            bootstrap_only=True,
        ),
        StepSpec(
            "db-sync",
            manage(ctx, "nova-manage", "--config-file", CONF, "db", "sync"),
            bootstrap_only=True,
        ),
    )


NOVA_API = CatalogService(
    name="nova_api",
    render_files=api_files,
    render_processes=api_processes,
    render_dirs=dirs,
    render_steps=api_steps,
    database=DATABASE,
    identity=IDENTITY,
    endpoints=(ENDPOINT,),
    references=CONTROL_PLANE_SECRETS,
    probes=(Probe("nova", endpoint=ENDPOINT.internal),),
    needs=BACKENDS,
)
NOVA_CONDUCTOR = CatalogService(
    name="nova_conductor",
    render_files=control_plane_files,
    render_processes=daemon("nova-conductor"),
    render_dirs=dirs,
    references=CONTROL_PLANE_SECRETS,
    needs=("nova_api",),
)
NOVA_SCHEDULER = CatalogService(
    name="nova_scheduler",
    render_files=control_plane_files,
    render_processes=daemon("nova-scheduler"),
    render_dirs=dirs,
    references=CONTROL_PLANE_SECRETS,
    needs=("nova_api",),
)
NOVA_COMPUTE = CatalogService(
    name="nova_compute",
    render_files=compute_files,
    render_processes=daemon("nova-compute", control_plane=False),
    render_dirs=dirs,
    references=COMPUTE_SECRETS,
    needs=("ovs", "ovn_controller"),
)
