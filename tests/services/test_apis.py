"""Glance, Placement and Neutron configs, and every API's gunicorn.conf.py."""

from __future__ import annotations

import configparser
import dataclasses

import pytest

from dcn.model.description import Sdn
from dcn.plan.types import secret_ref
from dcn.services.base import RenderContext
from dcn.services.catalog import service
from tests.services.conftest import CONTROLLER_IP, VIP, parse_ini, with_outputs, with_site

#: service -> (gunicorn.conf.py path, WSGI callable, port)
APIS = {
    "keystone": ("/etc/keystone/gunicorn.conf.py", "keystone.wsgi.api:application", 5000),
    "glance_api": ("/etc/glance/gunicorn.conf.py", "glance.wsgi.api:application", 9292),
    "placement_api": ("/etc/placement/gunicorn.conf.py", "placement.wsgi.api:application", 8778),
    "neutron_server": ("/etc/neutron/gunicorn.conf.py", "neutron.wsgi.api:application", 9696),
    # and the metadata API on 8775 (tests/services/test_metadata.py)
    "nova_api": ("/etc/nova/gunicorn.conf.py", "nova_apis:application", 8774),
}


def gunicorn_settings(ctx: RenderContext, name: str) -> dict[str, object]:
    settings: dict[str, object] = {}
    exec(service(name).files(ctx)[APIS[name][0]].content, {}, settings)
    return settings


@pytest.mark.parametrize("name", sorted(APIS))
def test_gunicorn_conf(name: str, controller: RenderContext) -> None:
    path, app, port = APIS[name]
    settings = gunicorn_settings(controller, name)
    assert settings["wsgi_app"] == app
    assert settings["bind"][:2] == [f"{CONTROLLER_IP}:{port}", f"{VIP}:{port}"]
    assert settings["control_socket_disable"] is True
    assert settings["keepalive"] == 0
    assert 1 <= settings["workers"] <= 2
    proc = service(name).processes(controller)[0]
    # no arguments: oslo.config would parse them
    assert proc.command == ("/opt/dcn/venv/bin/gunicorn",)
    assert proc.workdir == path.rsplit("/", 1)[0]
    assert proc.health_port == port
    if name == "nova_api":  # nova's loader reads api-paste.ini;nova.conf by default
        assert "raw_env" not in settings


def test_apis_bind_ipv6_in_brackets(controller: RenderContext) -> None:
    ctx = dataclasses.replace(controller, addresses={"internal_api": "fd00:dc:16::10"})
    bind = gunicorn_settings(ctx, "placement_api")["bind"]
    assert bind == ["[fd00:dc:16::10]:8778", f"{VIP}:8778"]


def test_api_port_follows_the_endpoint_map(controller: RenderContext) -> None:
    endpoints = dict(controller.outputs.endpoint_map)
    endpoints["GlanceInternal"] = {**endpoints["GlanceInternal"], "port": "19292"}
    ctx = with_outputs(controller, endpoint_map=endpoints)
    assert gunicorn_settings(ctx, "glance_api")["bind"] == [
        f"{CONTROLLER_IP}:19292",
        f"{VIP}:19292",
    ]
    assert service("glance_api").processes(ctx)[0].health_port == 19292


def test_glance_api_conf(controller: RenderContext) -> None:
    files = service("glance_api").files(controller)
    conf = parse_ini(files["/etc/glance/glance-api.conf"].content)
    assert conf["DEFAULT"]["enabled_backends"] == "file:file"
    assert conf["DEFAULT"]["worker_self_reference_url"] == f"http://{CONTROLLER_IP}:9292"
    assert conf["glance_store"]["default_backend"] == "file"
    assert conf["file"]["filesystem_store_datadir"] == "/var/lib/glance/images/"
    assert conf["paste_deploy"]["flavor"] == "keystone"
    auth = conf["keystone_authtoken"]
    assert (auth["username"], auth["password"]) == ("glance", secret_ref("GlancePassword"))
    assert auth["project_domain_name"] == auth["user_domain_name"] == "Default"
    assert auth["project_name"] == "service"
    assert conf["database"]["connection"].endswith(f"@{VIP}/glance")
    paste = parse_ini(files[conf["paste_deploy"]["config_file"]].content)
    assert paste.has_section("composite:glance-api-keystone")


def test_placement_conf(controller: RenderContext) -> None:
    conf = parse_ini(
        service("placement_api").files(controller)["/etc/placement/placement.conf"].content
    )
    db = secret_ref("PlacementDbPassword")
    assert conf["placement_database"]["connection"] == (
        f"mysql+pymysql://placement:{db}@{VIP}/placement"
    )
    assert conf["api"]["auth_strategy"] == "keystone"
    assert conf["keystone_authtoken"]["username"] == "placement"


def test_neutron_conf(controller: RenderContext) -> None:
    files = service("neutron_server").files(controller)
    conf = parse_ini(files["/etc/neutron/neutron.conf"].content)
    assert conf["DEFAULT"]["core_plugin"] == "ml2"
    assert conf["DEFAULT"]["service_plugins"] == "ovn-router,segments"
    assert conf["DEFAULT"]["transport_url"].startswith("rabbit://guest:")
    assert conf["nova"]["username"] == "nova"
    assert conf["nova"]["password"] == secret_ref("NovaPassword")
    assert conf["nova"]["endpoint_type"] == "internal"
    assert conf["oslo_concurrency"]["lock_path"] == "/var/lib/neutron/tmp"
    assert conf["database"]["connection"].endswith(f"@{VIP}/neutron")
    assert files[conf["DEFAULT"]["api_paste_config"]].secrets == ()


def ml2_of(ctx: RenderContext) -> configparser.ConfigParser:
    files = service("neutron_server").files(ctx)
    return parse_ini(files["/etc/neutron/plugins/ml2/ml2_conf.ini"].content)


def test_ml2_ovn_with_provider_networks(controller: RenderContext) -> None:
    """OVN binds ports; flat and VLAN provider networks on any physnet; projects get
    geneve networks (their traffic reaches sites that tunnel); the OVN databases
    wherever ovn_dbs runs."""
    ml2 = ml2_of(controller)
    assert ml2["ml2"]["mechanism_drivers"] == "ovn"
    assert ml2["ml2"]["type_drivers"] == "geneve,flat,vlan"
    assert ml2["ml2"]["project_network_types"] == "geneve"
    assert ml2["ml2_type_flat"]["flat_networks"] == "*"
    assert ml2["ovn"]["ovn_nb_connection"] == f"tcp:{CONTROLLER_IP}:6641"
    assert ml2["ovn"]["ovn_sb_connection"] == f"tcp:{CONTROLLER_IP}:6642"


def test_project_networks_do_not_depend_on_tunnelling(controller: RenderContext) -> None:
    ml2 = ml2_of(with_site(controller, sdn=Sdn(mechanism="ovn", tunnelling=True)))
    assert (
        ml2["ml2"]["project_network_types"]
        == "geneve"
        == ml2_of(controller)["ml2"]["project_network_types"]
    )
    assert ml2["ml2_type_geneve"]["vni_ranges"] == "1:65536"


def test_neutron_companions_read_both_files(controller: RenderContext) -> None:
    """Since 2025.1 the API runs only under WSGI: the periodic and OVN maintenance
    workers run as their own units, after the database and the broker, each in one
    process (no cotyledon master: dcn.node.single_process)."""
    procs = {p.name: p for p in service("neutron_server").processes(controller)}
    assert set(procs) == {
        "neutron-server",
        "neutron-periodic-workers",
        "neutron-ovn-maintenance-worker",
    }
    for name in ("neutron-periodic-workers", "neutron-ovn-maintenance-worker"):
        assert procs[name].command == (
            "/opt/dcn/venv/bin/python3",
            "/var/lib/dcn/single_process.py",
            name,
            "--config-file",
            "/etc/neutron/neutron.conf",
            "--config-file",
            "/etc/neutron/plugins/ml2/ml2_conf.ini",
        )
        assert procs[name].after == ("mariadb", "rabbitmq")
    program = service("neutron_server").files(controller)["/var/lib/dcn/single_process.py"]
    assert "no_fork" in program.content and program.mode == "0755"
