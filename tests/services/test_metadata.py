"""Instance metadata over the network: nova's metadata API on the controllers, neutron's
metadata ports, the OVN metadata agent on the computes of metadata-route sites only."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcn.errors import DcnError
from dcn.model.description import InstanceMetadata
from dcn.node import source
from dcn.plan.types import StackPlan, secret_ref
from dcn.services import ovn_metadata_agent
from dcn.services.base import RenderContext
from dcn.services.catalog import node_services, service
from dcn.workspace import Workspace
from tests.services.conftest import (
    CONTROLLER_IP,
    EDGE,
    VIP,
    parse_ini,
    with_outputs,
    with_site,
)

ROOT = Path(__file__).resolve().parents[2]
NOVA_CONF = "/etc/nova/nova.conf"
AGENT_INI = "/etc/neutron/neutron_ovn_metadata_agent.ini"
SECRET = "NeutronMetadataProxySharedSecret"
METADATA_ROUTE = InstanceMetadata(config_drive=False, metadata_route=True)


def gunicorn(ctx: RenderContext, name: str, path: str) -> dict[str, object]:
    settings: dict[str, object] = {}
    exec(service(name).files(ctx)[path].content, {}, settings)
    return settings


def test_nova_apis_process_serves_the_metadata_api_on_its_port(
    controller: RenderContext,
) -> None:
    """One process, one copy of nova: gunicorn binds both APIs' ports and the WSGI
    module hands a request to the API of the port it came in on."""
    settings = gunicorn(controller, "nova_api", "/etc/nova/gunicorn.conf.py")
    assert settings["wsgi_app"] == "nova_apis:application"
    assert settings["bind"] == [
        f"{CONTROLLER_IP}:8774",
        f"{VIP}:8774",
        f"{CONTROLLER_IP}:8775",
        f"{VIP}:8775",
    ]
    assert service("nova_metadata").processes(controller) == ()
    (proc,) = service("nova_api").processes(controller)
    assert (proc.name, proc.workdir) == ("nova-api", "/etc/nova")
    module = service("nova_api").files(controller)["/etc/nova/nova_apis.py"].content
    compiled: dict[str, Any] = {}
    exec(dispatch_only(module), compiled)
    assert compiled["METADATA_PORTS"] == frozenset({"8775"})
    served: list[str] = []
    compiled["compute"] = lambda env, start: served.append("compute")
    compiled["metadata"] = lambda env, start: served.append("metadata")
    for port in ("8774", "8775"):
        compiled["application"]({"SERVER_PORT": port}, None)
    assert served == ["compute", "metadata"]


def dispatch_only(module: str) -> str:
    """The module without nova's imports and loaders: its ports and dispatcher."""
    keep = [
        line
        for line in module.splitlines()
        if not line.startswith(("from nova", "monkey_patch", "compute =", "metadata ="))
    ]
    return "\n".join(keep)


def test_the_paste_file_holds_the_metadata_app(controller: RenderContext) -> None:
    text = service("nova_api").files(controller)["/etc/nova/api-paste.ini"].content
    paste = configparser.ConfigParser(interpolation=None)
    paste.read_string(text)
    assert paste["composite:metadata"]["/"] == "meta"
    assert paste["pipeline:meta"]["pipeline"].split()[-1] == "metaapp"
    factory = "nova.api.metadata.handler:MetadataRequestHandler.factory"
    assert paste["app:metaapp"]["paste.app_factory"] == factory
    assert "composite:osapi_compute" in paste


def test_the_metadata_endpoint_moved_with_its_service() -> None:
    assert service("nova_metadata").tripleo_names == ("nova_metadata",)
    assert service("nova_api").tripleo_names == ("nova_api",)
    (endpoint,) = service("nova_metadata").endpoints  # type: ignore[attr-defined]
    assert (endpoint.name, endpoint.port, endpoint.service) == (
        "NovaMetadata",
        8775,
        "nova_metadata",
    )
    assert endpoint.interfaces == ("Internal",)


def test_controllers_nova_conf_trusts_the_metadata_proxies(controller: RenderContext) -> None:
    rendered = {
        name: service(name).files(controller)[NOVA_CONF]
        for name in ("nova_api", "nova_metadata", "nova_conductor", "nova_scheduler")
    }
    assert len({spec.content for spec in rendered.values()}) == 1  # one shared file
    spec = rendered["nova_metadata"]
    neutron = parse_ini(spec.content)["neutron"]
    assert neutron["service_metadata_proxy"] == "True"
    assert neutron["metadata_proxy_shared_secret"] == secret_ref(SECRET)
    assert neutron["username"] == "neutron"  # the client settings are kept
    assert SECRET in spec.secrets and spec.mode == "0640"
    for name in rendered:
        assert SECRET in service(name).secrets


@pytest.mark.parametrize("metadata", [InstanceMetadata(), METADATA_ROUTE])
def test_a_computes_nova_conf_has_no_metadata_secret(
    edge: RenderContext, metadata: InstanceMetadata
) -> None:
    spec = service("nova_compute").files(with_site(edge, instance_metadata=metadata))[NOVA_CONF]
    assert SECRET not in spec.content
    assert SECRET not in spec.secrets
    assert "service_metadata_proxy" not in spec.content
    assert SECRET not in service("nova_compute").secrets


def test_neutron_gives_networks_metadata_ports(controller: RenderContext) -> None:
    files = service("neutron_server").files(controller)
    ml2 = parse_ini(files["/etc/neutron/plugins/ml2/ml2_conf.ini"].content)
    assert ml2["ovn"]["ovn_metadata_enabled"] == "True"


def agent_ini(ctx: RenderContext) -> configparser.ConfigParser:
    return parse_ini(service("ovn_metadata_agent").files(ctx)[AGENT_INI].content)


def test_the_agent_reaches_nova_metadata_from_the_outputs(edge: RenderContext) -> None:
    ctx = with_site(edge, instance_metadata=METADATA_ROUTE)
    spec = service("ovn_metadata_agent").files(ctx)[AGENT_INI]
    assert spec.mode == "0600" and spec.secrets == (SECRET,)
    default = parse_ini(spec.content)["DEFAULT"]
    assert dict(default) == {
        "host": EDGE,  # nova's host name, as the chassis is named
        "state_path": "/var/lib/neutron",
        "nova_metadata_host": VIP,
        "nova_metadata_port": "8775",
        "nova_metadata_protocol": "http",
        "metadata_proxy_shared_secret": secret_ref(SECRET),
    }


def test_the_agent_follows_the_endpoint_map(edge: RenderContext) -> None:
    endpoints: dict[str, Any] = dict(edge.outputs.endpoint_map)
    endpoints["NovaMetadataInternal"] = {
        "protocol": "http",
        "host": "[fd00:dc:16::5]",
        "host_nobrackets": "fd00:dc:16::5",
        "port": "18775",
        "uri": "http://[fd00:dc:16::5]:18775",
        "uri_no_suffix": "http://[fd00:dc:16::5]:18775",
    }
    default = agent_ini(with_outputs(edge, endpoint_map=endpoints))["DEFAULT"]
    assert default["nova_metadata_host"] == "fd00:dc:16::5"
    assert default["nova_metadata_port"] == "18775"


def test_outputs_without_the_metadata_api_are_a_clear_error(edge: RenderContext) -> None:
    endpoints = {k: v for k, v in edge.outputs.endpoint_map.items() if "Metadata" not in k}
    with pytest.raises(DcnError, match="NovaMetadataInternal") as raised:
        service("ovn_metadata_agent").files(with_outputs(edge, endpoint_map=endpoints))
    assert raised.value.hint


def test_the_agent_runs_as_root_with_the_venvs_privsep_helper(edge: RenderContext) -> None:
    ini = agent_ini(edge)
    assert ini["agent"]["root_helper"] == ""
    assert ini["ovs"]["ovsdb_connection"] == "unix:/var/run/openvswitch/db.sock"
    assert ini["ovn"]["ovn_sb_connection"] == f"tcp:{CONTROLLER_IP}:6642"
    helper = f"/opt/dcn/venv/bin/privsep-helper --config-file {AGENT_INI}"
    sections = [s for s in ini.sections() if s.startswith("privsep")]
    assert sections == list(ovn_metadata_agent.PRIVSEP_SECTIONS)
    assert {ini[s]["helper_command"] for s in sections} == {helper}


def test_the_agent_and_the_offload_program_are_processes(edge: RenderContext) -> None:
    agent, offload = service("ovn_metadata_agent").processes(edge)
    assert agent.command == (
        "/opt/dcn/venv/bin/neutron-ovn-metadata-agent",
        "--config-file",
        AGENT_INI,
    )
    assert agent.user == "root"
    assert agent.env["PATH"].split(":")[0] == "/opt/dcn/venv/bin"
    assert "/usr/sbin" in agent.env["PATH"].split(":")  # haproxy, ip
    assert offload.command == ("/usr/bin/python3", ovn_metadata_agent.OFFLOAD)
    for proc in (agent, offload):
        assert proc.after == ("openvswitch", "ovn-controller")
        assert proc.health_port is None
    program = service("ovn_metadata_agent").files(edge)[ovn_metadata_agent.OFFLOAD]
    assert program.content == source("ovnmeta_offload.py")
    assert program.mode == "0755" and not program.secrets
    assert {"haproxy", "ethtool"} <= set(service("ovn_metadata_agent").packages)
    dirs = {d.path for d in service("ovn_metadata_agent").dirs(edge)}
    assert {"/var/lib/neutron", "/var/lib/neutron/external/pids"} <= dirs


def test_the_agent_runs_only_at_metadata_route_sites(edge: RenderContext) -> None:
    routed = with_site(edge, instance_metadata=METADATA_ROUTE).site
    drive = with_site(edge, instance_metadata=InstanceMetadata()).site
    both = with_site(edge, instance_metadata=InstanceMetadata(metadata_route=True)).site
    for role in ("Compute", "DistributedCompute", "DistributedComputeScaleOut"):
        assert node_services(role, routed) == (
            "ovs",
            "ovn_controller",
            "ovn_metadata_agent",
            "nova_compute",
        )
        assert node_services(role, both)[2] == "ovn_metadata_agent"
        assert "ovn_metadata_agent" not in node_services(role, drive)
    assert node_services("Controller", drive)[7:9] == ("nova_api", "nova_metadata")


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackPlan]:
    """The example with dcn0 on config drive and dcn1 on the metadata route."""
    data = yaml.safe_load((ROOT / "examples" / "dcn-basic.yaml").read_text())
    metadata = {"dcn0": {"config_drive": True}, "dcn1": METADATA_ROUTE.model_dump()}
    for site in data["sites"]:
        if site["name"] in metadata:
            site["instance_metadata"] = metadata[site["name"]]
            site["roles"]["DistributedCompute"] = {"count": 2}
    folder = tmp_path_factory.mktemp("metadata")
    path = folder / "dcn.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    ws = Workspace(path, state_dir=folder / "state")
    return {r.plan.site: r.plan for r in ws.plan(record=False)}


def test_a_plan_runs_the_agent_on_the_metadata_route_sites_computes(
    plans: dict[str, StackPlan],
) -> None:
    for node in plans["dcn1"].nodes:
        assert "ovn_metadata_agent" in node.services
        assert [u.service for u in node.units][1:] == list(node.services)
        assert AGENT_INI in node.files
        assert "neutron-ovn-metadata-agent" in {p.name for p in node.processes}
    for node in plans["dcn0"].nodes:
        assert "ovn_metadata_agent" not in node.services
        assert "ovn_metadata_agent" not in {u.service for u in node.units}
        assert not any(path.startswith("/etc/neutron") for path in node.files)
    assert SECRET in plans["dcn1"].secrets
    assert SECRET not in plans["dcn0"].secrets
    (controller,) = plans["central"].nodes
    assert "nova_metadata" in controller.services
    assert "nova-api" in {p.name for p in controller.processes}
    assert "/etc/nova/nova_apis.py" in controller.files
    assert "NovaMetadataInternal" in plans["central"].outputs.endpoint_map  # type: ignore[union-attr]
