"""Render contexts built by hand: the example description and realistic outputs.

The outputs mimic what the control plane publishes (TripleO key names) for the
example's central site: one controller at 198.18.16.10 and the internal_api VIP
198.18.16.5 in front of the APIs and the database.
"""

from __future__ import annotations

import configparser
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from dcn.model.description import Deployment, parse
from dcn.model.loader import load_yaml
from dcn.plan.types import ControlPlaneOutputs, NodeAddressing, SiteNetworkPlan, secret_ref
from dcn.services.base import RenderContext

ROOT = Path(__file__).resolve().parents[2]
VIP = "198.18.16.5"
CONTROLLER = "central-controller-0"
CONTROLLER_IP = "198.18.16.10"
EDGE = "dcn0-distributedcompute-0"
EDGE_IP = "198.18.17.10"


def _endpoint(port: int, host: str = VIP, suffix: str = "") -> dict[str, str]:
    base = f"http://{host}:{port}"
    return {
        "protocol": "http",
        "host": host,
        "host_nobrackets": host,
        "port": str(port),
        "uri": base + suffix,
        "uri_no_suffix": base,
    }


def outputs(**changes: Any) -> ControlPlaneOutputs:
    """The central site's outputs; keyword arguments replace whole fields."""
    fields: dict[str, Any] = dict(
        stack="central",
        endpoint_map={
            "KeystoneInternal": _endpoint(5000),
            "KeystonePublic": _endpoint(5000, "198.18.48.5"),
            "GlanceInternal": _endpoint(9292),
            "PlacementInternal": _endpoint(8778),
            "NeutronInternal": _endpoint(9696),
            "NovaInternal": _endpoint(8774, suffix="/v2.1"),
            "NovaMetadataInternal": _endpoint(8775),
        },
        all_nodes_config={
            "enabled_services": ["mariadb", "rabbitmq", "keystone", "nova_api"],
            "oslo_messaging_rpc_node_names": [f"{CONTROLLER}.internalapi.localdomain"],
            "oslo_messaging_rpc_node_ips": [CONTROLLER_IP],
            "oslo_messaging_rpc_short_bootstrap_node_name": CONTROLLER,
            "mysql_vip": VIP,
            "mysql_node_ips": [CONTROLLER_IP],
            "ovn_dbs_node_ips": [CONTROLLER_IP],
            "internal_api_virtual_ip": VIP,
        },
        global_config={
            **{
                f"oslo_messaging_{kind}_{key}": value
                for kind in ("rpc", "notify")
                for key, value in (
                    ("scheme", "rabbit"),
                    ("port", "5672"),
                    ("user_name", "guest"),
                    ("password", secret_ref("RabbitPassword")),
                    ("use_ssl", "False"),
                )
            },
            "memcached_port": 11211,
        },
        hosts_entry=[
            f"198.18.0.10 {CONTROLLER}.localdomain {CONTROLLER}",
            f"{CONTROLLER_IP} {CONTROLLER}.internalapi.localdomain {CONTROLLER}.internalapi",
        ],
    )
    fields.update(changes)
    return ControlPlaneOutputs(**fields)


@pytest.fixture(scope="session")
def deployment() -> Deployment:
    return parse(load_yaml(ROOT / "examples" / "dcn-basic.yaml").data)


def make_ctx(
    deployment: Deployment,
    site: str,
    hostname: str,
    addresses: dict[str, str],
    vips: dict[str, str] | None = None,
    **site_changes: Any,
) -> RenderContext:
    found = deployment.site(site)
    assert found is not None
    if site_changes:
        found = found.model_copy(update=site_changes)
    network = SiteNetworkPlan(
        site=site,
        subnets={},
        nodes={hostname: NodeAddressing(hostname, dict(addresses), "52:54:00:00:00:01")},
        vips=dict(vips or {}),
    )
    return RenderContext(
        deployment=deployment,
        site=found,
        network=network,
        hostname=hostname,
        fqdn=f"{hostname}.{deployment.domain}",
        addresses=dict(addresses),
        outputs=outputs(),
    )


@pytest.fixture
def controller(deployment: Deployment) -> RenderContext:
    return make_ctx(
        deployment,
        "central",
        CONTROLLER,
        {"ctlplane": "198.18.0.10", "internal_api": CONTROLLER_IP, "storage": "198.18.32.10"},
        vips={"internal_api": VIP, "ctlplane": "198.18.0.5", "external": "198.18.48.5"},
    )


@pytest.fixture
def edge(deployment: Deployment) -> RenderContext:
    return make_ctx(
        deployment,
        "dcn0",
        EDGE,
        {"ctlplane": "198.18.1.10", "internal_api": EDGE_IP, "tenant": "fd00:dc:1:1::10"},
    )


def with_outputs(ctx: RenderContext, **changes: Any) -> RenderContext:
    return dataclasses.replace(ctx, outputs=outputs(**changes))


def with_site(ctx: RenderContext, **changes: Any) -> RenderContext:
    return dataclasses.replace(ctx, site=ctx.site.model_copy(update=changes))


def parse_ini(text: str) -> configparser.ConfigParser:
    """Read a rendered file back: sections and values as oslo.config sees them.

    ``DEFAULT`` is read as an ordinary section (configparser would copy its options into
    every other section, which oslo.config does not do).
    """
    parser = configparser.ConfigParser(
        interpolation=None, allow_no_value=True, strict=True, default_section="\0"
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser
