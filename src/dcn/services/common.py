"""Sections and values several services share, read from the control plane's outputs.

Everything here reads `ctx.outputs` (endpoint map, global config, node lists) and
never another stack's internals, so the control plane and an edge that imported an
export render from the same contract. A key missing from the outputs is an operator
problem (an incomplete export), reported with what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dcn.errors import DcnError
from dcn.node import source
from dcn.plan.types import FileSpec, secret_ref
from dcn.services.base import Endpoint, RenderContext
from dcn.services.render import file_spec, url_host

#: the project every service user lives in, as TripleO and kolla name it
SERVICE_PROJECT = "service"
DEFAULT_DOMAIN = "Default"
DEFAULT_REGION = "regionOne"
#: nothing consumes notifications in these clouds, so no service sends any
NOTIFICATIONS_OFF = {"driver": "noop"}
#: processes an OpenStack service needs: started before it where they share its node
BACKENDS = ("mariadb", "rabbitmq")
#: GlobalConfig key: the broker is a cluster and its clients use quorum queues
QUORUM_KEY = "oslo_messaging_rabbit_quorum_queue"
#: the node program that runs an oslo.service program in one process
#: (`dcn.node.single_process`), with the virtualenv's Python
SINGLE_PROCESS = "/var/lib/dcn/single_process.py"


def manage(ctx: RenderContext, tool: str, *args: str) -> tuple[str, ...]:
    """A command of the OpenStack virtualenv (``keystone-manage``, ``nova-manage`` ...)."""
    return (f"{ctx.venv}/bin/{tool}", *args)


def oslo_program(ctx: RenderContext, program: str, *args: str, one_worker: bool) -> tuple[str, ...]:
    """The command of an oslo.service program. With one worker it runs in one process:
    no cotyledon master holding a second copy of it (`dcn.node.single_process`)."""
    if not one_worker:
        return manage(ctx, program, *args)
    return (f"{ctx.venv}/bin/python3", SINGLE_PROCESS, program, *args)


def single_process_file() -> dict[str, FileSpec]:
    """The file `oslo_program` needs on the node when it runs a program in one process."""
    return {SINGLE_PROCESS: file_spec(source("single_process.py"), mode="0755")}


def _missing(what: str, ctx: RenderContext) -> DcnError:
    return DcnError(
        f"the control plane's outputs ({ctx.outputs.stack}) have no {what}",
        hint="re-plan the control plane, or re-import a complete export "
        "(EndpointMapOverride, GlobalConfigExtraMapData, AllNodesExtraMapData)",
    )


def endpoint(ctx: RenderContext, name: str) -> dict[str, str]:
    """An EndpointMap entry such as ``KeystoneInternal``."""
    entry = ctx.outputs.endpoint_map.get(name)
    if not isinstance(entry, dict) or not {"uri", "uri_no_suffix"} <= entry.keys():
        raise _missing(f"EndpointMap entry {name} (with uri and uri_no_suffix)", ctx)
    return entry


def keystone_url(ctx: RenderContext, interface: str = "Internal") -> str:
    return endpoint(ctx, f"Keystone{interface}")["uri_no_suffix"]


def region(ctx: RenderContext) -> str:
    return str(ctx.outputs.global_config.get("keystone_region") or DEFAULT_REGION)


def on_node(ctx: RenderContext, host: str) -> bool:
    """Whether an address is held by this node: one of its own, or a VIP of its site on
    a network it is attached to (where the site's VIPs are placed: the lab puts them on
    the first controller). On a clustered control plane the VIPs are haproxy's, which
    keepalived moves between controllers: the services listen on their own addresses."""
    if host in ctx.addresses.values():
        return True
    if ctx.site.clustered:
        return False
    return any(vip == host and net in ctx.addresses for net, vip in ctx.network.vips.items())


def cluster_ips(ctx: RenderContext, tripleo_service: str) -> list[str]:
    """The addresses of every node running a service (``<service>_node_ips``)."""
    return [str(ip) for ip in ctx.outputs.all_nodes_config.get(f"{tripleo_service}_node_ips", [])]


def listen_addresses(ctx: RenderContext, client_host: str | None) -> tuple[str, ...]:
    """Where a control-plane listener binds: the node's internal address, plus the address
    clients are told to use when it is on the node (a VIP of this site)."""
    own = ctx.internal_ip
    if client_host and client_host != own and on_node(ctx, client_host):
        return (own, client_host)
    return (own,)


def api_port(ctx: RenderContext, endpoint_name: str, default_port: int) -> int:
    """The port of an API: its EndpointMap entry's, or the service's usual one."""
    return int(ctx.outputs.endpoint_map.get(endpoint_name, {}).get("port") or default_port)


def api_listen(ctx: RenderContext, endpoint: Endpoint) -> tuple[str, ...]:
    """``host:port`` binds for an API: the node's internal address, and every address
    its EndpointMap entries (Internal, Public, Admin: the URLs keystone's catalog gives
    clients) name that is on this node, each with its entry's port. Addresses elsewhere
    (another site's VIP, a name) are served by the nodes that hold them."""
    port = api_port(ctx, endpoint.internal, endpoint.port)
    binds = [(ctx.internal_ip, port)]
    for interface in endpoint.interfaces:
        entry = ctx.outputs.endpoint_map.get(f"{endpoint.name}{interface}") or {}
        host = entry.get("host_nobrackets")
        if host and on_node(ctx, host):
            binds.append((host, int(entry.get("port") or port)))
    return tuple(dict.fromkeys(f"{url_host(h)}:{p}" for h, p in binds))


def db_host(ctx: RenderContext) -> str:
    """The database address clients use: TripleO's ``mysql_vip``, else the first node."""
    nodes = ctx.outputs.all_nodes_config
    host = nodes.get("mysql_vip") or nodes.get("internal_api_virtual_ip")
    if not host:
        ips = nodes.get("mysql_node_ips") or []
        if not ips:
            raise _missing("mysql_vip or mysql_node_ips", ctx)
        host = ips[0]
    return str(host)


def ovn_connection(ctx: RenderContext, port: int) -> str:
    """An OVN database's connection string: every node serving it (``ovn_dbs``), each
    on its internal API address; OVN clients fail over between them themselves."""
    ips = ctx.outputs.all_nodes_config.get("ovn_dbs_node_ips") or []
    if not ips:
        raise _missing("ovn_dbs_node_ips", ctx)
    return ",".join(f"tcp:{url_host(str(ip))}:{port}" for ip in ips)


def db_connection(ctx: RenderContext, user: str, secret: str, database: str) -> str:
    """An SQLAlchemy URL for PyMySQL (the driver in the OpenStack virtualenv)."""
    return _db_url(ctx, f"{user}:{secret_ref(secret)}", database)


def cell_db_template(ctx: RenderContext, database: str) -> str:
    """A nova cell mapping's database URL with the credentials left as a template.

    nova fills ``{username}``/``{password}`` from the reading service's own
    ``[database]/connection``, so a rotated password needs no mapping update and the
    mapping (and the command that sets it) holds no secret.
    """
    return _db_url(ctx, "{username}:{password}", database)


def _db_url(ctx: RenderContext, credentials: str, database: str) -> str:
    return f"mysql+pymysql://{credentials}@{url_host(db_host(ctx))}/{database}"


def _flag(value: object) -> bool:
    """A GlobalConfig boolean: true as a YAML boolean, or "True"/"true"/"1" as text (a
    TripleO export writes either)."""
    return str(value).lower() in ("true", "1")


def _messaging(ctx: RenderContext, kind: str) -> tuple[str, str, str, bool]:
    cfg = ctx.outputs.global_config
    scheme = str(cfg.get(f"oslo_messaging_{kind}_scheme") or "rabbit")
    user = str(cfg.get(f"oslo_messaging_{kind}_user_name") or "guest")
    port = str(cfg.get(f"oslo_messaging_{kind}_port") or 5672)
    use_ssl = _flag(cfg.get(f"oslo_messaging_{kind}_use_ssl"))
    return scheme, user, port, use_ssl


def broker_user(ctx: RenderContext) -> str:
    return _messaging(ctx, "rpc")[1]


def transport_url(ctx: RenderContext) -> str:
    """``rabbit://user:pass@host1:5672,user:pass@host2:5672/`` over every broker node.

    The password is always the ``RabbitPassword`` reference (the outputs may carry a
    reference or, for a foreign export, a value; neither is copied into a file).
    """
    user = _messaging(ctx, "rpc")[1]
    credentials = f"{user}:{secret_ref('RabbitPassword')}"
    return _mq_url(ctx, lambda _index: credentials)


def cell_mq_template(ctx: RenderContext) -> str:
    """A nova cell mapping's transport URL with the credentials left as a template
    (indexed per broker when there are several, as nova numbers them)."""
    if len(_broker_hosts(ctx)) == 1:
        return _mq_url(ctx, lambda _index: "{username}:{password}")
    return _mq_url(ctx, lambda index: f"{{username{index}}}:{{password{index}}}")


def _broker_hosts(ctx: RenderContext) -> list[str]:
    nodes = ctx.outputs.all_nodes_config
    hosts = nodes.get("oslo_messaging_rpc_node_names") or nodes.get("oslo_messaging_rpc_node_ips")
    if not hosts:
        raise _missing("oslo_messaging_rpc_node_names (the broker hosts)", ctx)
    return [str(h) for h in hosts]


def _mq_url(ctx: RenderContext, credentials: Callable[[int], str]) -> str:
    scheme, _, port, _ = _messaging(ctx, "rpc")
    hosts = _broker_hosts(ctx)
    netlocs = (f"{credentials(i)}@{url_host(h)}:{port}" for i, h in enumerate(hosts, 1))
    return f"{scheme}://" + ",".join(netlocs) + "/"


def messaging_sections(ctx: RenderContext) -> dict[str, dict[str, Any]]:
    """oslo.messaging settings; notifications are off (nothing consumes them here)."""
    use_ssl = _messaging(ctx, "rpc")[3]
    live = ctx.deployment.liveness
    # a clustered broker replicates its queues (quorum queues); every client of it must
    # declare them alike, so the control plane publishes the choice in GlobalConfig
    quorum = _flag(ctx.outputs.global_config.get(QUORUM_KEY))
    return {
        "oslo_messaging_rabbit": {
            "heartbeat_timeout_threshold": live.heartbeat_timeout_threshold,
            "heartbeat_rate": live.heartbeat_rate,
            "rabbit_interval_max": live.reconnect_interval_max,
            "ssl": use_ssl,
            **({"rabbit_quorum_queue": True} if quorum else {}),
        },
        "oslo_messaging_notifications": NOTIFICATIONS_OFF,
    }


def password_auth(ctx: RenderContext, user: str, secret: str) -> dict[str, Any]:
    """keystoneauth ``password`` plugin options for a service user in project service."""
    return {
        "auth_type": "password",
        "auth_url": keystone_url(ctx),
        "project_domain_name": DEFAULT_DOMAIN,
        "user_domain_name": DEFAULT_DOMAIN,
        "project_name": SERVICE_PROJECT,
        "username": user,
        "password": secret_ref(secret),
    }


def catalog_client(ctx: RenderContext, user: str, secret: str) -> dict[str, Any]:
    """A client section that finds its endpoint in the catalog (internal interface)."""
    return {
        **password_auth(ctx, user, secret),
        "region_name": region(ctx),
        "valid_interfaces": "internal",
    }


def authtoken(ctx: RenderContext, user: str, secret: str) -> dict[str, Any]:
    """``[keystone_authtoken]`` for an API that validates tokens (keystonemiddleware)."""
    return {
        "www_authenticate_uri": keystone_url(ctx, "Public")
        if "KeystonePublic" in ctx.outputs.endpoint_map
        else keystone_url(ctx),
        **password_auth(ctx, user, secret),
        "region_name": region(ctx),
        "service_token_roles_required": True,
    }
