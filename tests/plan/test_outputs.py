"""The control plane's outputs: TripleO names and shapes, from a hand-built network plan."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from dcn.errors import DcnError
from dcn.model.description import Deployment, parse
from dcn.model.loader import load_yaml
from dcn.plan.outputs import ENDPOINTS, TRIPLEO_SERVICES, control_plane_outputs
from dcn.plan.types import ControlPlaneOutputs, NodeAddressing, SiteNetworkPlan, secret_ref

ROOT = Path(__file__).resolve().parents[2]
VIPS = {
    "ctlplane": "198.18.0.5",
    "internal_api": "198.18.16.5",
    "storage": "198.18.32.5",
    "external": "198.18.48.5",
}
CONTROLLERS = [f"central-controller-{i}" for i in range(3)]
COMPUTE = "central-novacompute-0"
ENTRY_KEYS = {"protocol", "host", "host_nobrackets", "port", "uri", "uri_no_suffix"}
CONTROLLER_SERVICES = [
    "glance_api",
    "keystone",
    "keystone_public_api",
    "mysql",
    "neutron_api",
    "nova_api",
    "nova_conductor",
    "nova_metadata",
    "nova_scheduler",
    "oslo_messaging_notify",
    "oslo_messaging_rpc",
    "ovn_dbs",
    "placement",
]


@dataclass(frozen=True)
class N:
    """The least a node needs to be for outputs: a name and a role."""

    hostname: str
    role: str


NODES = [*(N(h, "Controller") for h in CONTROLLERS), N(COMPUTE, "Compute")]


def _addresses(index: int, role: str, internal_v6: bool) -> dict[str, str]:
    host = 10 + index
    internal = f"fd00:dc:16::{host:x}" if internal_v6 else f"198.18.16.{host}"
    addresses = {
        "ctlplane": f"198.18.0.{host}",
        "internal_api": internal,
        "tenant": f"fd00:dc:1::{host:x}",
        "storage": f"198.18.32.{host}",
    }
    if role == "Controller":
        addresses["external"] = f"198.18.48.{host}"
    return addresses


def network(
    vips: dict[str, str] | None = None, internal_v6: bool = False, nodes: list[N] = NODES
) -> SiteNetworkPlan:
    return SiteNetworkPlan(
        site="central",
        subnets={},
        nodes={
            n.hostname: NodeAddressing(
                n.hostname, _addresses(i, n.role, internal_v6), f"52:54:00:00:00:{i:02x}"
            )
            for i, n in enumerate(nodes)
        },
        vips=dict(VIPS if vips is None else vips),
    )


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return parse(load_yaml(ROOT / "examples" / "dcn-basic.yaml").data)


def outputs_of(
    deployment: Deployment, plan: SiteNetworkPlan | None = None, nodes: list[N] = NODES
) -> ControlPlaneOutputs:
    site = deployment.site("central")
    assert site is not None
    return control_plane_outputs(deployment, site, plan or network(nodes=nodes), nodes)


@pytest.fixture(scope="module")
def outputs(deployment: Deployment) -> ControlPlaneOutputs:
    return outputs_of(deployment)


# -- EndpointMap -------------------------------------------------------------------


def test_endpoint_map_names_and_entry_shape(outputs: ControlPlaneOutputs) -> None:
    expected = {f"{ep.name}{i}" for ep in ENDPOINTS for i in ep.interfaces}
    assert set(outputs.endpoint_map) == expected
    assert {"KeystoneV3Admin", "NovaMetadataInternal", "MysqlInternal"} <= expected
    assert "NovaMetadataPublic" not in expected and "MysqlPublic" not in expected
    for name, entry in outputs.endpoint_map.items():
        assert set(entry) == ENTRY_KEYS, name
        assert all(isinstance(v, str) for v in entry.values()), name


@pytest.mark.parametrize(
    ("name", "uri", "uri_no_suffix"),
    [
        ("KeystoneInternal", "http://198.18.16.5:5000", "http://198.18.16.5:5000"),
        ("KeystonePublic", "http://198.18.48.5:5000", "http://198.18.48.5:5000"),
        ("KeystoneAdmin", "http://198.18.16.5:5000", "http://198.18.16.5:5000"),
        ("KeystoneV3Internal", "http://198.18.16.5:5000/v3", "http://198.18.16.5:5000"),
        ("GlanceInternal", "http://198.18.16.5:9292", "http://198.18.16.5:9292"),
        ("PlacementPublic", "http://198.18.48.5:8778", "http://198.18.48.5:8778"),
        ("NeutronInternal", "http://198.18.16.5:9696", "http://198.18.16.5:9696"),
        ("NovaInternal", "http://198.18.16.5:8774/v2.1", "http://198.18.16.5:8774"),
        ("NovaMetadataInternal", "http://198.18.16.5:8775", "http://198.18.16.5:8775"),
        ("MysqlInternal", "mysql+pymysql://198.18.16.5", "mysql+pymysql://198.18.16.5"),
    ],
)
def test_endpoint_values(outputs: ControlPlaneOutputs, name: str, uri: str, uri_no_suffix: str):
    entry = outputs.endpoint_map[name]
    assert (entry["uri"], entry["uri_no_suffix"]) == (uri, uri_no_suffix)
    assert entry["uri"].startswith(f"{entry['protocol']}://{entry['host']}")
    assert entry["host"] == entry["host_nobrackets"]


def test_ports_and_protocols(outputs: ControlPlaneOutputs) -> None:
    ports = {n: e["port"] for n, e in outputs.endpoint_map.items() if n.endswith("Internal")}
    assert ports["KeystoneInternal"] == "5000" and ports["PlacementInternal"] == "8778"
    assert ports["NovaInternal"] == "8774" and ports["MysqlInternal"] == "3306"
    assert outputs.endpoint_map["MysqlInternal"]["protocol"] == "mysql+pymysql"
    assert outputs.endpoint_map["GlanceInternal"]["protocol"] == "http"


def test_ipv6_internal_api_is_bracketed_in_hosts_and_uris(deployment: Deployment) -> None:
    vips = {**VIPS, "internal_api": "fd00:dc:16::5"}
    out = outputs_of(deployment, network(vips, internal_v6=True))
    entry = out.endpoint_map["KeystoneInternal"]
    assert entry["host"] == "[fd00:dc:16::5]"
    assert entry["host_nobrackets"] == "fd00:dc:16::5"
    assert entry["uri"] == "http://[fd00:dc:16::5]:5000"
    assert out.endpoint_map["MysqlInternal"]["uri"] == "mysql+pymysql://[fd00:dc:16::5]"
    assert out.endpoint_map["KeystonePublic"]["host"] == "198.18.48.5"
    assert out.global_config["memcached_ipv6"] is True
    assert out.all_nodes_config["mysql_vip"] == "fd00:dc:16::5"
    assert out.all_nodes_config["mysql_node_ips"][0] == "fd00:dc:16::a"


def test_public_falls_back_to_internal_api_without_external(deployment: Deployment) -> None:
    vips = {k: v for k, v in VIPS.items() if k != "external"}
    out = outputs_of(deployment, network(vips))
    assert out.endpoint_map["KeystonePublic"]["host"] == VIPS["internal_api"]
    assert "public_virtual_ip" not in out.all_nodes_config
    assert f"{VIPS['internal_api']} lab.localdomain lab" in out.hosts_entry


def test_without_vips_endpoints_point_at_the_bootstrap_node(deployment: Deployment) -> None:
    out = outputs_of(deployment, network({}))
    assert out.endpoint_map["KeystoneInternal"]["host"] == "198.18.16.10"
    assert out.endpoint_map["KeystonePublic"]["host"] == "198.18.16.10"
    assert not {"mysql_vip", "redis_vip", "internal_api_virtual_ip"} & set(out.all_nodes_config)


def test_endpoints_only_for_services_that_run(deployment: Deployment) -> None:
    out = outputs_of(deployment, nodes=[N(COMPUTE, "Compute")])
    assert out.endpoint_map == {}
    assert out.all_nodes_config["enabled_services"] == ["nova_compute", "ovn_controller", "ovs"]


# -- AllNodesConfig ----------------------------------------------------------------


def test_enabled_services_are_tripleo_names(outputs: ControlPlaneOutputs) -> None:
    enabled = outputs.all_nodes_config["enabled_services"]
    assert enabled == sorted([*CONTROLLER_SERVICES, "nova_compute", "ovn_controller", "ovs"])
    assert set(enabled) <= {n for names in TRIPLEO_SERVICES.values() for n in names}


def test_every_enabled_service_has_its_node_keys(outputs: ControlPlaneOutputs) -> None:
    cfg = outputs.all_nodes_config
    for svc in cfg["enabled_services"]:
        ips, names, short = (
            cfg[f"{svc}_{k}"] for k in ("node_ips", "node_names", "short_node_names")
        )
        assert len(ips) == len(names) == len(short) >= 1, svc
        assert cfg[f"{svc}_short_bootstrap_node_name"] == short[0]
        assert cfg[f"{svc}_bootstrap_node_ip"] == ips[0]
        assert names == [f"{h}.internalapi.localdomain" for h in short]


def test_services_are_placed_on_their_role_nodes(outputs: ControlPlaneOutputs) -> None:
    cfg = outputs.all_nodes_config
    assert cfg["mysql_short_node_names"] == CONTROLLERS
    assert cfg["oslo_messaging_rpc_node_ips"] == ["198.18.16.10", "198.18.16.11", "198.18.16.12"]
    assert cfg["oslo_messaging_rpc_node_names"][0] == "central-controller-0.internalapi.localdomain"
    assert cfg["nova_compute_short_node_names"] == [COMPUTE]
    assert cfg["nova_compute_node_ips"] == ["198.18.16.13"]


def test_vips_and_identity(outputs: ControlPlaneOutputs) -> None:
    cfg = outputs.all_nodes_config
    assert cfg["internal_api_virtual_ip"] == VIPS["internal_api"]
    assert cfg["public_virtual_ip"] == VIPS["external"]
    assert cfg["control_virtual_ip"] == VIPS["ctlplane"]
    assert cfg["storage_virtual_ip"] == VIPS["storage"]
    for key in ("mysql_vip", "redis_vip", "ovn_dbs_vip"):
        assert cfg[key] == VIPS["internal_api"]
    assert cfg["stack_name"] == "central" and cfg["cloud_domain"] == "localdomain"
    assert outputs.stack == "central"


# -- GlobalConfig ------------------------------------------------------------------


def test_global_config_is_tripleo_like(outputs: ControlPlaneOutputs) -> None:
    cfg = outputs.global_config
    for kind in ("rpc", "notify"):
        assert cfg[f"oslo_messaging_{kind}_scheme"] == "rabbit"
        assert cfg[f"oslo_messaging_{kind}_port"] == "5672"
        assert cfg[f"oslo_messaging_{kind}_user_name"] == "guest"
        assert cfg[f"oslo_messaging_{kind}_password"] == secret_ref("RabbitPassword")
        assert cfg[f"oslo_messaging_{kind}_use_ssl"] == "False"
    assert cfg["memcached_port"] == "11211" and cfg["memcached_ipv6"] is False
    assert cfg["enable_internal_tls"] is False
    assert cfg["cloud_name"] == "lab.localdomain"
    assert cfg["cloud_name_internal_api"] == "lab.internalapi.localdomain"
    assert cfg["cloud_name_ctlplane"] == "lab.ctlplane.localdomain"


def test_the_only_secret_in_outputs_is_a_reference(outputs: ControlPlaneOutputs) -> None:
    text = json.dumps(dataclasses.asdict(outputs))
    assert set(re.findall(r"@@dcn-secret:(\w+)@@", text)) == {"RabbitPassword"}


# -- HostsEntry --------------------------------------------------------------------

LINE = re.compile(r"^(\S+) (\S+) (\S+)$")


def test_hosts_lines(outputs: ControlPlaneOutputs) -> None:
    lines = outputs.hosts_entry
    assert lines == sorted(set(lines))
    for line in lines:
        match = LINE.match(line)
        assert match, line
        ip, fqdn, short = match.groups()
        ipaddress.ip_address(ip)
        assert fqdn == f"{short}.localdomain", line
    host = CONTROLLERS[0]
    assert f"198.18.0.10 {host}.localdomain {host}" in lines
    assert f"198.18.0.10 {host}.ctlplane.localdomain {host}.ctlplane" in lines
    assert f"198.18.16.10 {host}.internalapi.localdomain {host}.internalapi" in lines
    assert f"fd00:dc:1::a {host}.tenant.localdomain {host}.tenant" in lines
    assert f"198.18.48.10 {host}.external.localdomain {host}.external" in lines
    assert f"{VIPS['internal_api']} lab.internalapi.localdomain lab.internalapi" in lines
    assert f"{VIPS['external']} lab.localdomain lab" in lines
    # five networks plus the canonical name for each controller; the compute serves no
    # other node, so it is not listed (every node of every site gets these lines)
    assert len(lines) == 3 * 6 + len(VIPS)
    assert not any(COMPUTE in line for line in lines)


# -- determinism -------------------------------------------------------------------


def test_same_inputs_same_digest_whatever_the_dict_order(deployment: Deployment) -> None:
    plan = network()
    shuffled = SiteNetworkPlan(
        site=plan.site,
        subnets={},
        nodes={
            h: NodeAddressing(h, dict(reversed(a.addresses.items())), a.mac)
            for h, a in reversed(plan.nodes.items())
        },
        vips=dict(reversed(plan.vips.items())),
    )
    first, second = outputs_of(deployment, plan), outputs_of(deployment, shuffled)
    assert first == second and first.digest() == second.digest()


def test_digest_is_stable_across_interpreters(outputs: ControlPlaneOutputs) -> None:
    script = (
        "from tests.plan.test_outputs import *;"
        "d = parse(load_yaml(ROOT / 'examples' / 'dcn-basic.yaml').data);"
        "print(outputs_of(d).digest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert digests == {outputs.digest()}


def test_a_node_without_a_service_address_is_a_clear_error(deployment: Deployment) -> None:
    plan = network()
    host = CONTROLLERS[0]
    only_tenant = NodeAddressing(host, {"tenant": "fd00:dc:1::a"}, plan.nodes[host].mac)
    broken = dataclasses.replace(plan, nodes={**plan.nodes, host: only_tenant})
    with pytest.raises(DcnError) as err:
        outputs_of(deployment, broken)
    assert host in str(err.value) and "internal_api" in err.value.hint
