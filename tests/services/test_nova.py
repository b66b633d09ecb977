"""nova.conf of a compute node and of a controller, and the nova processes."""

from __future__ import annotations

import pytest

from dcn.errors import DcnError
from dcn.model.description import InstanceMetadata
from dcn.plan.types import secret_ref
from dcn.services.base import RenderContext
from dcn.services.catalog import service
from tests.services.conftest import (
    CONTROLLER,
    EDGE,
    EDGE_IP,
    VIP,
    parse_ini,
    with_outputs,
    with_site,
)

NOVA_CONF = "/etc/nova/nova.conf"
RABBIT = secret_ref("RabbitPassword")


def compute_conf(ctx: RenderContext):
    return parse_ini(service("nova_compute").files(ctx)[NOVA_CONF].content)


def test_compute_never_gets_a_database(edge: RenderContext) -> None:
    conf = compute_conf(edge)
    assert not conf.has_section("database")
    assert not conf.has_section("api_database")
    assert "mysql" not in service("nova_compute").files(edge)[NOVA_CONF].content


def test_compute_identity_driver_and_timers(edge: RenderContext) -> None:
    default = compute_conf(edge)["DEFAULT"]
    assert default["compute_driver"] == "fake.FakeDriverWithoutFakeNodes"
    assert default["host"] == EDGE
    assert default["my_ip"] == EDGE_IP
    assert default["state_path"] == "/var/lib/nova"
    assert default["report_interval"] == "10"
    assert default["service_down_time"] == "60"
    assert default["force_config_drive"] == "True"
    # the AZ comes from the host aggregate
    assert "default_availability_zone" not in default
    assert "availability_zone" not in service("nova_compute").files(edge)[NOVA_CONF].content


def test_live_migration_reaches_a_compute_by_address_not_name(edge: RenderContext) -> None:
    """/etc/hosts lists no peer compute of the site, so a migrating peer must not need
    this host's name: it connects to its internal_api address."""
    assert compute_conf(edge)["libvirt"]["live_migration_inbound_addr"] == EDGE_IP


def test_config_drive_is_not_forced_when_the_site_has_a_metadata_route(
    edge: RenderContext,
) -> None:
    ctx = with_site(edge, instance_metadata=InstanceMetadata(config_drive=False))
    assert "force_config_drive" not in compute_conf(ctx)["DEFAULT"]


def test_transport_url_lists_every_broker_host(edge: RenderContext) -> None:
    nodes = [f"central-controller-{i}.internalapi.localdomain" for i in range(3)]
    ctx = with_outputs(
        edge,
        all_nodes_config={**edge.outputs.all_nodes_config, "oslo_messaging_rpc_node_names": nodes},
    )
    url = compute_conf(ctx)["DEFAULT"]["transport_url"]
    assert url == "rabbit://" + ",".join(f"guest:{RABBIT}@{n}:5672" for n in nodes) + "/"


def test_transport_url_from_ipv6_broker_addresses(edge: RenderContext) -> None:
    nodes = dict(edge.outputs.all_nodes_config)
    del nodes["oslo_messaging_rpc_node_names"]
    nodes["oslo_messaging_rpc_node_ips"] = ["fd00:dc:2::10"]
    url = compute_conf(with_outputs(edge, all_nodes_config=nodes))["DEFAULT"]["transport_url"]
    assert url == f"rabbit://guest:{RABBIT}@[fd00:dc:2::10]:5672/"


def test_missing_broker_hosts_is_a_clear_error(edge: RenderContext) -> None:
    nodes = {k: v for k, v in edge.outputs.all_nodes_config.items() if "messaging" not in k}
    with pytest.raises(DcnError, match="oslo_messaging_rpc_node_names") as err:
        service("nova_compute").files(with_outputs(edge, all_nodes_config=nodes))
    assert "export" in err.value.hint


def test_compute_reaches_services_through_the_catalog(edge: RenderContext) -> None:
    conf = compute_conf(edge)
    assert conf["placement"]["username"] == "nova"
    assert conf["placement"]["password"] == secret_ref("NovaPassword")
    assert conf["placement"]["valid_interfaces"] == "internal"
    assert conf["neutron"]["username"] == "neutron"
    assert conf["neutron"]["password"] == secret_ref("NeutronPassword")
    assert conf["neutron"]["auth_url"] == f"http://{VIP}:5000"
    assert dict(conf["glance"]) == {"region_name": "regionOne", "valid_interfaces": "internal"}
    assert conf["service_user"]["send_service_user_token"] == "True"
    assert conf["service_user"]["username"] == "nova"
    assert conf["oslo_messaging_rabbit"]["heartbeat_timeout_threshold"] == "60"
    assert conf["oslo_messaging_notifications"]["driver"] == "noop"
    assert not conf.has_section("keystone_authtoken")


def test_controller_nova_conf_has_databases_and_token_validation(
    controller: RenderContext,
) -> None:
    conf = parse_ini(service("nova_conductor").files(controller)[NOVA_CONF].content)
    db = secret_ref("NovaDbPassword")
    assert conf["api_database"]["connection"] == f"mysql+pymysql://nova:{db}@{VIP}/nova_api"
    assert conf["database"]["connection"] == f"mysql+pymysql://nova:{db}@{VIP}/nova"
    auth = conf["keystone_authtoken"]
    assert auth["www_authenticate_uri"] == "http://198.18.48.5:5000"
    assert auth["auth_url"] == f"http://{VIP}:5000"
    assert (auth["auth_type"], auth["username"], auth["project_name"]) == (
        "password",
        "nova",
        "service",
    )
    assert conf["wsgi"]["api_paste_config"] == "/etc/nova/api-paste.ini"
    assert conf["DEFAULT"]["host"] == CONTROLLER
    assert "compute_driver" not in conf["DEFAULT"]


def test_overrides_apply_to_nova_conf_by_base_name(edge: RenderContext) -> None:
    ctx = with_site(
        edge,
        config_overrides={
            "nova.conf": {
                "DEFAULT": {"report_interval": 5, "force_config_drive": None},
                "compute": {"max_concurrent_builds": 2},
            },
            "neutron.conf": {"DEFAULT": {"debug": True}},
        },
    )
    conf = compute_conf(ctx)
    assert conf["DEFAULT"]["report_interval"] == "5"
    assert "force_config_drive" not in conf["DEFAULT"]
    assert conf["compute"]["max_concurrent_builds"] == "2"
    assert "debug" not in conf["DEFAULT"]


def test_nova_processes(controller: RenderContext, edge: RenderContext) -> None:
    (compute,) = service("nova_compute").processes(edge)
    assert compute.command == (
        "/opt/dcn/venv/bin/nova-compute",
        "--config-file",
        NOVA_CONF,
    )
    assert compute.health_port is None
    (conductor,) = service("nova_conductor").processes(controller)
    assert conductor.command[0] == "/opt/dcn/venv/bin/nova-conductor"
    (scheduler,) = service("nova_scheduler").processes(controller)
    assert scheduler.command[0] == "/opt/dcn/venv/bin/nova-scheduler"
    (api,) = service("nova_api").processes(controller)
    assert api.command == ("/opt/dcn/venv/bin/gunicorn",)
    assert (api.workdir, api.health_port) == ("/etc/nova", 8774)


def test_nova_api_ships_its_paste_pipeline(controller: RenderContext) -> None:
    files = service("nova_api").files(controller)
    paste = parse_ini(files["/etc/nova/api-paste.ini"].content)
    assert paste["composite:osapi_compute"]["use"].startswith("call:nova.api.openstack.urlmap")
    pipeline = paste["composite:openstack_compute_api_v21"]["keystone"].split()
    assert pipeline[-3:] == ["authtoken", "keystonecontext", "osapi_compute_app_v21"]
    for name in pipeline[:-1]:
        assert paste.has_section(f"filter:{name}"), name
