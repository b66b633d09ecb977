"""MariaDB, RabbitMQ and Keystone: the files the control plane's foundations read."""

from __future__ import annotations

import re

import yaml

from dcn.plan.types import secret_ref
from dcn.services.base import RenderContext
from dcn.services.catalog import DATABASES, service
from tests.services.conftest import (
    CONTROLLER,
    CONTROLLER_IP,
    VIP,
    parse_ini,
    with_outputs,
    with_site,
)


def test_my_cnf(controller: RenderContext) -> None:
    files = service("mariadb").files(controller)
    mysqld = parse_ini(files["/etc/mysql/my.cnf"].content)["mysqld"]
    # the node's address, and the VIP clients are given (it lives on this node)
    assert mysqld["bind-address"] == f"{CONTROLLER_IP},{VIP}"
    assert mysqld["port"] == "3306"
    assert mysqld["datadir"] == "/var/lib/mysql"
    assert mysqld["socket"] == "/run/mysqld/mysqld.sock"
    assert mysqld["skip-name-resolve"] is None
    assert int(mysqld["max_connections"]) >= 200
    assert files["/etc/mysql/my.cnf"].secrets == ()


def test_database_listens_only_on_its_node_when_clients_use_node_addresses(
    controller: RenderContext,
) -> None:
    nodes = {
        k: v
        for k, v in controller.outputs.all_nodes_config.items()
        if k not in ("mysql_vip", "internal_api_virtual_ip")
    }
    ctx = with_outputs(controller, all_nodes_config=nodes)
    mysqld = parse_ini(service("mariadb").files(ctx)["/etc/mysql/my.cnf"].content)["mysqld"]
    assert mysqld["bind-address"] == CONTROLLER_IP
    conf = service("keystone").files(ctx)["/etc/keystone/keystone.conf"].content
    assert f"@{CONTROLLER_IP}/keystone" in conf


def test_init_sql_grants_each_user_only_its_databases(controller: RenderContext) -> None:
    spec = service("mariadb").files(controller)["/etc/dcn/mariadb-init.sql"]
    assert spec.mode == "0600"
    sql = spec.content
    grants = re.findall(r"GRANT ALL PRIVILEGES ON `(\w+)`\.\* TO '(\w+)'@'%';", sql)
    assert sorted(grants) == sorted((db, d.user) for d in DATABASES for db in d.names)
    assert {db for db, user in grants if user == "nova"} == {"nova_api", "nova", "nova_cell0"}
    for d in DATABASES:
        assert (
            f"CREATE USER IF NOT EXISTS '{d.user}'@'%' IDENTIFIED BY '{secret_ref(d.secret)}';"
            in sql
        )
        for db in d.names:
            assert f"CREATE DATABASE IF NOT EXISTS `{db}`;" in sql
    assert secret_ref("MysqlRootPassword") in sql
    assert "ON *.*" not in sql


def test_mariadb_runs_as_debians_unit_on_dcns_config(controller: RenderContext) -> None:
    (proc,) = service("mariadb").processes(controller)
    assert proc.packaged_unit == "mariadb.service" and proc.user == "mysql"
    assert proc.packaged_unit in service("mariadb").packaged_units
    # Debian's unit runs `mariadbd $MYSQLD_OPTS`; the file is readable by mysql; two
    # malloc arenas, not one per busy connection thread
    assert proc.env == {
        "MYSQLD_OPTS": "--defaults-file=/etc/mysql/my.cnf",
        "MALLOC_ARENA_MAX": "2",
    }
    assert service("mariadb").files(controller)["/etc/mysql/my.cnf"].mode == "0644"
    assert proc.health_port == 3306


def rabbitmq_conf(ctx: RenderContext) -> dict[str, str]:
    text = service("rabbitmq").files(ctx)["/etc/rabbitmq/rabbitmq.conf"].content
    return dict(line.split(" = ", 1) for line in text.splitlines())


def test_rabbitmq_files(controller: RenderContext) -> None:
    files = service("rabbitmq").files(controller)
    conf = rabbitmq_conf(controller)
    assert conf["listeners.tcp.default"] == f"{CONTROLLER_IP}:5672"
    assert conf["loopback_users"] == "none"
    assert conf["heartbeat"] == "60"
    assert conf["default_user"] == "guest"
    assert conf["default_pass"] == secret_ref("RabbitPassword")
    assert conf["default_user_tags.administrator"] == "true"
    assert files["/etc/rabbitmq/rabbitmq.conf"].mode == "0600"
    env = dict(
        line.split("=", 1) for line in files["/etc/rabbitmq/rabbitmq-env.conf"].content.split()
    )
    assert env["NODENAME"] == f"rabbit@{CONTROLLER}"
    assert env["MNESIA_BASE"].startswith("/var/lib/rabbitmq/")
    cookie = files["/var/lib/rabbitmq/.erlang.cookie"]
    assert (cookie.content, cookie.mode) == (secret_ref("RabbitCookie"), "0400")


def test_rabbitmq_overrides_by_any_section(controller: RenderContext) -> None:
    ctx = with_site(controller, config_overrides={"rabbitmq.conf": {"rabbit": {"heartbeat": 30}}})
    assert rabbitmq_conf(ctx)["heartbeat"] == "30"


def test_rabbitmq_runs_as_debians_unit_owning_its_files(controller: RenderContext) -> None:
    (proc,) = service("rabbitmq").processes(controller)
    assert proc.packaged_unit == "rabbitmq-server.service" and proc.user == "rabbitmq"
    assert proc.env["HOME"] == "/var/lib/rabbitmq"
    assert proc.health_port == 5672
    files = service("rabbitmq").files(controller)
    for path in ("/etc/rabbitmq/rabbitmq.conf", "/var/lib/rabbitmq/.erlang.cookie"):
        assert files[path].owner == "rabbitmq", path
    dirs = {d.path: d.owner for d in service("rabbitmq").dirs(controller)}
    assert dirs == {"/var/lib/rabbitmq": "rabbitmq", "/var/log/rabbitmq": "rabbitmq"}


def test_keystone_conf_and_keys(controller: RenderContext) -> None:
    files = service("keystone").files(controller)
    conf = parse_ini(files["/etc/keystone/keystone.conf"].content)
    db = secret_ref("KeystoneDbPassword")
    assert conf["database"]["connection"] == f"mysql+pymysql://keystone:{db}@{VIP}/keystone"
    assert conf["token"]["provider"] == "fernet"
    assert conf["fernet_tokens"]["key_repository"] == "/etc/keystone/fernet-keys"
    assert conf["credential"]["key_repository"] == "/etc/keystone/credential-keys"
    for repo, prefix in (
        ("fernet-keys", "KeystoneFernetKey"),
        ("credential-keys", "KeystoneCredential"),
    ):
        for index in (0, 1):
            key = files[f"/etc/keystone/{repo}/{index}"]
            assert (key.content, key.mode) == (secret_ref(f"{prefix}{index}"), "0600")


def test_keystone_admin_clouds_yaml(controller: RenderContext) -> None:
    spec = service("keystone").files(controller)["/etc/openstack/clouds.yaml"]
    assert spec.mode == "0600"
    cloud = yaml.safe_load(spec.content)["clouds"]["lab"]
    assert cloud["auth"]["password"] == secret_ref("AdminPassword")
    assert cloud["auth"]["auth_url"] == f"http://{VIP}:5000"
    assert cloud["region_name"] == "regionOne"
