"""RabbitMQ (Debian package), run as Debian's own ``rabbitmq-server.service`` (as the
rabbitmq user, its files owned by it) with a drop-in from dcn.

Deploy steps run ``/usr/lib/rabbitmq/bin/rabbitmqctl`` as root with
``HOME=/var/lib/rabbitmq``, where the cookie is (``/usr/sbin/rabbitmqctl`` switches
user first). The broker user is created by the server itself on first boot from
``default_user``/``default_pass``; afterwards the server ignores ``default_pass``, so
the ``password`` step sets it with ``rabbitmqctl change_password`` whenever the config
file changes (a rotated ``RabbitPassword``). The step reads the password from the
config file on standard input: it never appears on a command line or in a log.

The control plane publishes how to reach the broker in TripleO's GlobalConfig
(``oslo_messaging_{rpc,notify}_*``); every OpenStack service reads it from there.
"""

from __future__ import annotations

import shlex

from dcn.plan.types import DirSpec, FileSpec, ProcessSpec, StepSpec, secret_ref
from dcn.secrets.catalog import Secret, SecretKind
from dcn.services import ini
from dcn.services.base import CatalogService, Probe, RenderContext
from dcn.services.common import broker_user
from dcn.services.render import config_file, file_spec, override_name

PORT = 5672
USER = "rabbitmq"
UNIT = "rabbitmq-server.service"
HOME = "/var/lib/rabbitmq"
LOGS = "/var/log/rabbitmq"
BIN = "/usr/lib/rabbitmq/bin"
CONFIG = config_file("/etc/rabbitmq/rabbitmq.conf", flat=True)
ENV_CONFIG = "/etc/rabbitmq/rabbitmq-env.conf"
COOKIE = f"{HOME}/.erlang.cookie"
#: environment every rabbitmq command needs (server, rabbitmqctl in deploy steps)
ENV = {"HOME": HOME, "RABBITMQ_CONF_ENV_FILE": ENV_CONFIG}
#: the broker user's password, which every messaging client uses (TripleO's name)
PASSWORD = "RabbitPassword"
COOKIE_SECRET = Secret("RabbitCookie", SecretKind.ERLANG_COOKIE)
#: TripleO's GlobalConfig for messaging: the same broker serves RPC and notifications
MESSAGING_KINDS = ("rpc", "notify")
MESSAGING: dict[str, object] = {
    f"oslo_messaging_{kind}_{key}": value
    for kind in MESSAGING_KINDS
    for key, value in (
        ("scheme", "rabbit"),
        ("port", str(PORT)),
        ("user_name", "guest"),
        ("password", secret_ref(PASSWORD)),
        ("use_ssl", "False"),
    )
}


def rabbitmq_conf(ctx: RenderContext) -> FileSpec:
    options = {
        # replaces the all-interfaces listener; IPv6 is written without brackets here
        "listeners.tcp.default": f"{ctx.internal_ip}:{PORT}",
        "loopback_users": "none",
        # the broker's heartbeat agrees with the clients' timeout threshold
        "heartbeat": ctx.deployment.liveness.heartbeat_timeout_threshold,
        "default_vhost": "/",
        "default_user": broker_user(ctx),
        "default_pass": secret_ref(PASSWORD),
        "default_user_tags.administrator": True,
        "default_permissions.configure": ".*",
        "default_permissions.read": ".*",
        "default_permissions.write": ".*",
        **cluster(ctx),
    }
    merged = ini.merge_flat(options, ctx.overrides(override_name(CONFIG)))
    # booleans are lower case in rabbitmq.conf (cuttlefish), unlike oslo.config
    lowered = {k: str(v).lower() if isinstance(v, bool) else v for k, v in merged.items()}
    return file_spec(ini.render_flat(lowered), mode="0600", owner=USER)


def cluster(ctx: RenderContext) -> dict[str, object]:
    """Peer discovery from the plan (every controller's node name); a node cut off from
    the majority pauses rather than serving a partition of its own."""
    peers = ctx.outputs.all_nodes_config.get("oslo_messaging_rpc_short_node_names") or []
    if len(peers) < 2:
        return {}
    options: dict[str, object] = {
        "cluster_formation.peer_discovery_backend": "classic_config",
        "cluster_partition_handling": "pause_minority",
    }
    for index, peer in enumerate(peers, 1):
        options[f"cluster_formation.classic_config.nodes.{index}"] = f"rabbit@{peer}"
    return options


def rabbitmq_env(ctx: RenderContext) -> FileSpec:
    """Shell-style; names without the RABBITMQ_ prefix, as rabbitmq-env.conf wants."""
    values = {
        "NODENAME": f"rabbit@{ctx.hostname}",
        "CONFIG_FILE": CONFIG,
        "MNESIA_BASE": f"{HOME}/mnesia",
        "LOG_BASE": LOGS,
        "PID_FILE": f"{HOME}/rabbitmq.pid",
        "ENABLED_PLUGINS_FILE": "/etc/rabbitmq/enabled_plugins",
    }
    return file_spec("".join(f"{k}={v}\n" for k, v in values.items()))


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    return {
        CONFIG: rabbitmq_conf(ctx),
        ENV_CONFIG: rabbitmq_env(ctx),
        "/etc/rabbitmq/enabled_plugins": file_spec("[].\n"),
        # no trailing newline: the cookie is compared byte for byte
        COOKIE: file_spec(secret_ref(COOKIE_SECRET.name), mode="0400", owner=USER),
    }


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (
        ProcessSpec(
            name="rabbitmq",
            packaged_unit=UNIT,
            user=USER,
            health_port=PORT,
            env=dict(ENV),
        ),
    )


def grow(ctx: RenderContext) -> tuple[StepSpec, ...]:
    """A cluster member takes a replica of every quorum queue declared before it
    joined. A quorum queue's members are the cluster's nodes when it is declared, and
    the bootstrap controller's services declare theirs (conductor, scheduler) before
    the others join: without this those queues live on that one node, and losing it
    stops every call to them (publishes are nacked until it returns)."""
    if not cluster(ctx):
        return ()
    command = (f"{BIN}/rabbitmq-queues", "grow", f"rabbit@{ctx.hostname}", "all")
    return (StepSpec(name="grow-queues", command=command, phase="post", env=dict(ENV)),)


def steps(ctx: RenderContext) -> tuple[StepSpec, ...]:
    """Re-set the broker user's password from the config file (idempotent)."""
    read_pass = f"sed -n 's/^default_pass = //p' {shlex.quote(CONFIG)}"
    change = f"{BIN}/rabbitmqctl change_password {shlex.quote(broker_user(ctx))}"
    return (
        # the broker's files are its user's (a node where root ran the broker before)
        StepSpec(
            name="owner",
            command=("/bin/chown", "-R", f"{USER}:{USER}", HOME, LOGS),
            once=True,
        ),
        StepSpec(
            name="password",
            command=("/bin/sh", "-c", f"{read_pass} | {change}"),
            phase="post",
            rerun_on=(CONFIG,),
            env=dict(ENV),
            # a cluster replicates its users
            bootstrap_only=True,
        ),
        *grow(ctx),
    )


def dirs(ctx: RenderContext) -> tuple[DirSpec, ...]:
    return (DirSpec(HOME, owner=USER, mode="0700"), DirSpec(LOGS, owner=USER, mode="0750"))


SERVICE = CatalogService(
    name="rabbitmq",
    render_files=files,
    render_processes=processes,
    render_dirs=dirs,
    render_steps=steps,
    tripleo=("oslo_messaging_rpc", "oslo_messaging_notify"),
    references=(COOKIE_SECRET, PASSWORD),
    global_config=MESSAGING,
    probes=(
        Probe(
            "broker",
            nodes="oslo_messaging_rpc_node_names",
            port_key="oslo_messaging_rpc_port",
            default_port=PORT,
        ),
    ),
    packages=("rabbitmq-server",),
    packaged_units=(UNIT,),
    needs=(),
)
