"""MariaDB (Debian package): one server on the control plane, and the SQL that makes
each service's database and user.

It runs as Debian's own ``mariadb.service`` (as the mysql user), which dcn adjusts
with a drop-in: the server reads dcn's my.cnf only, and restarts after any failure.

Each service declares its own database user and password (`Database`, in its module),
granted on its own databases only; nova's user covers nova_api, nova and nova_cell0
(cells v2). The init script creates every declared one; the deploy step runs it over
the local socket (root authenticates by unix_socket).
"""

from __future__ import annotations

from dcn.plan.types import DirSpec, FileSpec, ProcessSpec, StepSpec, secret_ref
from dcn.services import ini
from dcn.services.base import INTERNAL, CatalogService, Endpoint, RenderContext
from dcn.services.common import cluster_ips, db_host, listen_addresses
from dcn.services.render import config_file, file_spec, ini_file, url_host

PORT = 3306
CONFIG = config_file("/etc/mysql/my.cnf")
INIT_SQL = "/etc/dcn/mariadb-init.sql"
SOCKET = "/run/mysqld/mysqld.sock"
DATADIR = "/var/lib/mysql"
UNIT = "mariadb.service"
ROOT_SECRET = "MysqlRootPassword"
#: the TripleO service whose node lists name the cluster's members
TRIPLEO = "mysql"
GALERA_PROVIDER = "/usr/lib/galera/libgalera_smm.so"
#: the node program that bootstraps, inspects and recovers the cluster (dcn.node.cluster)
GALERA = "/var/lib/dcn/cluster.py"
#: where each member answers haproxy's check (TripleO's clustercheck port)
CHECK_PORT = 9200
#: the node's Python, for dcn's node programs (standard library only)
NODE_PYTHON = "/usr/bin/python3"
#: TripleO's MysqlInternal: ``mysql+pymysql://host`` (no port in its uri)
ENDPOINT = Endpoint(
    "Mysql", PORT, interfaces=(INTERNAL,), protocol="mysql+pymysql", port_in_uri=False
)


def galera(ctx: RenderContext) -> dict[str, object]:
    """wsrep settings of a cluster member: every member's address from the plan, state
    transfer by rsync as the mysql user, failure noticed within 3 s, and the last
    primary view kept (pc.recovery) so a cluster whose every node lost power forms
    again by itself when they all come back."""
    members = cluster_ips(ctx, TRIPLEO)
    if len(members) < 2:
        return {}
    options = "; ".join(
        (
            "gcache.size=64M",
            "pc.recovery=TRUE",
            "evs.suspect_timeout=PT3S",
            "evs.inactive_timeout=PT6S",
            "evs.keepalive_period=PT1S",
        )
    )
    return {
        "wsrep_on": "ON",
        "wsrep_provider": GALERA_PROVIDER,
        "wsrep_provider_options": f'"{options}"',
        "wsrep_cluster_name": f"{ctx.deployment.name}-{ctx.site.name}",
        "wsrep_cluster_address": "gcomm://" + ",".join(members),
        "wsrep_node_address": ctx.internal_ip,
        "wsrep_node_name": ctx.hostname,
        "wsrep_sst_method": "rsync",
        "binlog_format": "ROW",
        "default_storage_engine": "InnoDB",
        "innodb_autoinc_lock_mode": 2,
    }


def my_cnf(ctx: RenderContext) -> FileSpec:
    return ini_file(
        ctx,
        CONFIG,
        {
            "client": {"port": PORT, "socket": SOCKET},
            "mysqld": {
                **galera(ctx),
                "user": "mysql",
                # MariaDB 10.11 takes a list: the node, and the VIP clients use if it is here
                "bind-address": ",".join(listen_addresses(ctx, db_host(ctx))),
                "port": PORT,
                "socket": SOCKET,
                "pid-file": "/run/mysqld/mysqld.pid",
                "datadir": DATADIR,
                "skip-name-resolve": ini.FLAG,
                # a lab: every API worker and daemon keeps a pool of up to 15 connections
                "max_connections": 500,
                "innodb_buffer_pool_size": "128M",
                "character-set-server": "utf8mb4",
                "collation-server": "utf8mb4_general_ci",
            },
        },
    )


def init_sql() -> FileSpec:
    """Idempotent: re-running it sets the current passwords (rotation) and grants."""
    # the catalog imports this module to find it: ask it for the databases when rendering
    from dcn.services.catalog import DATABASES

    root = secret_ref(ROOT_SECRET)
    lines = [
        "-- managed by dcn: databases and least-privilege users of the OpenStack services",
        "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket "
        f"OR mysql_native_password USING PASSWORD('{root}');",
        "DROP USER IF EXISTS ''@'localhost';",
    ]
    for database in DATABASES:
        user, password = database.user, secret_ref(database.secret)
        lines += [f"CREATE DATABASE IF NOT EXISTS `{db}`;" for db in database.names]
        lines += [
            f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{password}';",
            f"ALTER USER '{user}'@'%' IDENTIFIED BY '{password}';",
        ]
        lines += [f"GRANT ALL PRIVILEGES ON `{db}`.* TO '{user}'@'%';" for db in database.names]
    lines.append("FLUSH PRIVILEGES;")
    return file_spec("\n".join(lines) + "\n", mode="0600")


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    return {CONFIG: my_cnf(ctx), INIT_SQL: init_sql()}


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (
        ProcessSpec(
            name="mariadb",
            packaged_unit=UNIT,
            env={
                # the unit runs `mariadbd $MYSQLD_OPTS`
                "MYSQLD_OPTS": f"--defaults-file={CONFIG}",
                # glibc gives each busy connection thread an arena of its own: with the
                # ~80 client connections of a control plane the active server held 12
                # arenas of ~22 MiB each (377 MiB in all); with two, 217 MiB (lab)
                "MALLOC_ARENA_MAX": "2",
            },
            user="mysql",
            health_port=PORT,
        ),
        *_check(ctx),
    )


def _check(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    """A cluster member's answer to haproxy: may it take clients (Synced, Primary)? A
    plain TCP check would send the VIP's clients to a member that is up but cut off in
    a minority, or still joining, where every query fails."""
    if not ctx.site.clustered:
        return ()
    listen = f"{url_host(ctx.internal_ip)}:{CHECK_PORT}"
    return (
        ProcessSpec(
            name="galera-check",
            command=(NODE_PYTHON, GALERA, "check-server", listen),
            health_port=CHECK_PORT,
            after=("mariadb",),
        ),
    )


def dirs(ctx: RenderContext) -> tuple[DirSpec, ...]:
    return (
        DirSpec(DATADIR, owner="mysql", mode="0750"),
        DirSpec("/run/mysqld", owner="mysql", mode="0755"),
        DirSpec("/var/log/mysql", owner="mysql", mode="0750"),
    )


def steps(ctx: RenderContext) -> tuple[StepSpec, ...]:
    """Create the system tables once; (re)apply the users' SQL whenever it changes."""
    return (
        StepSpec(
            name="install-db",
            command=(
                "/usr/bin/mariadb-install-db",
                f"--defaults-file={CONFIG}",
                "--user=mysql",
                f"--datadir={DATADIR}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ),
            once=True,
        ),
        *new_cluster(ctx),
        StepSpec(
            name="users",
            command=("/usr/bin/mariadb", f"--defaults-file={CONFIG}", "-e", f"source {INIT_SQL}"),
            phase="post",
            rerun_on=(INIT_SQL,),
            once=True,
            # a cluster replicates its users
            bootstrap_only=True,
        ),
    )


def new_cluster(ctx: RenderContext) -> tuple[StepSpec, ...]:
    """On a cluster's bootstrap node: start it as a new cluster on its first deploy
    (the others join it as their units start, one node at a time). The node program
    refuses when a cluster exists already, so re-running it is safe."""
    members = cluster_ips(ctx, TRIPLEO)
    if len(members) < 2:
        return ()
    peers = [ip for ip in members if ip != ctx.internal_ip]
    return (
        StepSpec(
            name="new-cluster",
            command=("/usr/bin/python3", GALERA, "new-cluster", *peers),
            once=True,
            bootstrap_only=True,
        ),
    )


SERVICE = CatalogService(
    name="mariadb",
    render_files=files,
    render_processes=processes,
    render_dirs=dirs,
    render_steps=steps,
    tripleo=("mysql",),
    endpoints=(ENDPOINT,),
    references=(ROOT_SECRET,),
    hosts=("databases",),
    packages=("mariadb-server", "mariadb-client"),
    packaged_units=(UNIT,),
    needs=(),
)
