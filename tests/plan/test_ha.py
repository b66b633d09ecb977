"""A clustered control plane (examples/dcn-ha.yaml, ha_size 3) as planned: every
controller runs every service, keepalived and haproxy hold and serve the VIPs, the
clusters (Galera, RabbitMQ, OVN's databases) name every member, and the one-time work
runs on the bootstrap node only."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from dcn.model.description import Deployment, parse
from dcn.model.loader import load_yaml
from dcn.plan.stack import plan_control_plane, plan_edge
from dcn.plan.types import ExportVersion, StackPlan

ROOT = Path(__file__).resolve().parents[2]


def _deployment(name: str) -> Deployment:
    return parse(load_yaml(ROOT / "examples" / name).data)


@pytest.fixture(scope="module")
def ha() -> tuple[Deployment, StackPlan]:
    dep = _deployment("dcn-ha.yaml")
    return dep, plan_control_plane(dep, dep.site("central"))


def _ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, allow_no_value=True, strict=False)
    parser.read_string(text)
    return parser


def _steps(plan: StackPlan, index: int) -> dict[str, list[str]]:
    return {u.service: [s.name for s in u.steps] for u in plan.nodes[index].units}


def test_three_controllers_each_run_every_service_with_keepalived_and_haproxy(ha) -> None:
    _, plan = ha
    assert plan.clustered and len(plan.controllers()) == 3
    services = {n.services for n in plan.controllers()}
    assert len(services) == 1
    assert {"keepalived", "haproxy", "mariadb", "rabbitmq", "nova_conductor"} <= set(services.pop())


def test_a_single_controller_has_neither_keepalived_nor_haproxy() -> None:
    dep = _deployment("dcn-basic.yaml")
    plan = plan_control_plane(dep, dep.site("central"))
    assert not plan.clustered
    assert not {"keepalived", "haproxy"} & set(plan.nodes[0].services)
    assert "wsrep_on" not in plan.nodes[0].files["/etc/mysql/my.cnf"].content
    assert "galera-check" not in {p.name for p in plan.nodes[0].processes}


def test_one_time_steps_run_on_the_bootstrap_node_only(ha) -> None:
    _, plan = ha
    first, joiner = _steps(plan, 0), _steps(plan, 1)
    assert first["nova_api"] == ["api-db-sync", "map-cell0", "create-cell1", "db-sync"]
    assert first["keystone"] == ["db-sync", "bootstrap", "catalog"]
    assert first["mariadb"] == ["install-db", "new-cluster", "users"]
    for service in ("nova_api", "keystone", "glance_api", "placement_api", "neutron_server"):
        assert joiner[service] == [], service
    # what every member needs of its own stays everywhere
    assert joiner["mariadb"] == ["install-db"]
    assert joiner["rabbitmq"] == ["owner", "grow-queues"]
    assert joiner["keepalived"] == ["interfaces"]


def test_galera_names_every_member_and_the_node_itself(ha) -> None:
    _, plan = ha
    members = [n.addresses["internal_api"] for n in plan.controllers()]
    for node in plan.controllers():
        mysqld = _ini(node.files["/etc/mysql/my.cnf"].content)["mysqld"]
        assert mysqld["wsrep_cluster_address"] == "gcomm://" + ",".join(members)
        assert mysqld["wsrep_node_address"] == node.addresses["internal_api"]
        assert mysqld["bind-address"] == node.addresses["internal_api"]
        assert mysqld["user"] == "mysql"
        assert "pc.recovery=TRUE" in mysqld["wsrep_provider_options"]


def test_haproxy_fronts_the_vips_with_one_active_database_backend(ha) -> None:
    _, plan = ha
    vip = plan.network.vips["internal_api"]
    members = [n.addresses["internal_api"] for n in plan.controllers()]
    cfg = plan.nodes[0].files["/etc/haproxy/haproxy.cfg"].content
    binds = [line.split()[1] for line in cfg.splitlines() if line.strip().startswith("bind ")]
    assert len(binds) == len(set(binds)), "a VIP and port is bound once"
    mysql = cfg.split("listen mysql\n", 1)[1].split("\n\n", 1)[0]
    assert f"bind {vip}:3306 transparent" in mysql
    servers = [line.split() for line in mysql.splitlines() if line.strip().startswith("server")]
    assert [s[2] for s in servers] == [f"{ip}:3306" for ip in members]
    assert [s[-1] == "backup" for s in servers] == [False, True, True]
    # up when its check server says Synced and Primary, not when its port answers
    assert "option httpchk GET /" in mysql and "http-check expect status 200" in mysql
    assert all(s[s.index("port") + 1] == "9200" for s in servers)
    for node, ip in zip(plan.controllers(), members, strict=True):
        (check,) = [p for p in node.processes if p.name == "galera-check"]
        assert check.command[-2:] == ("check-server", f"{ip}:9200")
        assert check.health_port == 9200 and check.after == ("mariadb",)
    keystone = cfg.split("listen keystone\n", 1)[1].split("\n\n", 1)[0]
    assert f"bind {vip}:5000 transparent" in keystone
    assert f"bind {plan.network.vips['external']}:5000 transparent" in keystone


def test_apis_listen_on_their_own_address_not_the_vips(ha) -> None:
    _, plan = ha
    vips = set(plan.network.vips.values())
    for node in plan.controllers():
        for path, spec in node.files.items():
            if path.startswith(("/etc/haproxy", "/etc/keepalived", "/etc/hosts")):
                continue
            for line in spec.content.splitlines():
                if "bind" in line or "listen" in line:
                    assert not any(v in line for v in vips), f"{node.hostname} {path}: {line}"
        assert not any(plan.held_addresses(node)[net][1:] for net in plan.held_addresses(node))


def test_keepalived_moves_every_vip_together_with_priorities_in_plan_order(ha) -> None:
    _, plan = ha
    priorities = []
    for node in plan.controllers():
        conf = node.files["/etc/keepalived/keepalived.conf"].content
        assert "vrrp_sync_group" in conf and "nopreempt" in conf
        for vip in plan.network.vips.values():
            assert f"{vip}/32" in conf
        priorities.append(int(conf.split("priority ", 1)[1].split()[0]))
    assert priorities == sorted(priorities, reverse=True) and len(set(priorities)) == 3


def test_rabbitmq_forms_from_the_plan_and_every_client_uses_quorum_queues(ha) -> None:
    dep, plan = ha
    conf = plan.nodes[1].files["/etc/rabbitmq/rabbitmq.conf"].content
    for index, node in enumerate(plan.controllers(), 1):
        assert f"cluster_formation.classic_config.nodes.{index} = rabbit@{node.hostname}" in conf
    assert "cluster_partition_handling = pause_minority" in conf
    assert plan.outputs is not None
    edge = plan_edge(dep, dep.site("dcn0"), plan.outputs, ExportVersion("central", 1, "sha256:x"))
    nova = _ini(edge.nodes[0].files["/etc/nova/nova.conf"].content)
    assert nova["oslo_messaging_rabbit"]["rabbit_quorum_queue"] == "True"
    url = nova["DEFAULT"]["transport_url"]
    for node in plan.controllers():
        assert f"@{node.hostname}.internalapi.localdomain:5672" in url, "every broker"
    # and the edge reaches the APIs and the database through the internal VIP only
    assert plan.network.vips["internal_api"] in nova["placement"]["auth_url"]


def test_ovn_databases_form_a_raft_cluster_through_the_bootstrap_node(ha) -> None:
    _, plan = ha
    first = plan.controllers()[0].addresses["internal_api"]
    for index, node in enumerate(plan.controllers()):
        opts = node.files["/etc/default/ovn-central"].content
        assert f"--db-sb-cluster-local-addr={node.addresses['internal_api']}" in opts
        joins = f"--db-sb-cluster-remote-addr={first}" in opts
        assert joins == (index > 0)
