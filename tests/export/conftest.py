"""Outputs of the example's control plane (built by dcn.plan.outputs) and secret values
distinctive enough that a leak into any message is found by a substring search."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcn.export import build_export
from dcn.model.description import parse
from dcn.model.loader import load_yaml
from dcn.plan.types import ControlPlaneOutputs, ExportVersion
from tests.plan.test_outputs import VIPS, network, outputs_of

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "RabbitPassword": "rabbit-VALUE-7f3a9c0d1e",
    "NovaPassword": "nova-VALUE-51be20aa77",
    "PlacementPassword": "placement-VALUE-0c44de9b",
    "KeystoneFernetKey0": "fernet0-VALUE-q1w2e3r4t5y6=",
}


def make_outputs(ipv6: bool = False) -> ControlPlaneOutputs:
    deployment = parse(load_yaml(ROOT / "examples" / "dcn-basic.yaml").data)
    vips = {**VIPS, "internal_api": "fd00:dc:16::5"} if ipv6 else VIPS
    return outputs_of(deployment, network(vips, internal_v6=ipv6))


@pytest.fixture(scope="session")
def outputs() -> ControlPlaneOutputs:
    return make_outputs()


@pytest.fixture(scope="session")
def version(outputs: ControlPlaneOutputs) -> ExportVersion:
    return ExportVersion("central", 3, outputs.digest())


@pytest.fixture
def doc(outputs: ControlPlaneOutputs, version: ExportVersion) -> dict:
    return build_export(
        outputs, version, SECRETS, scope="least-privilege", for_site="dcn0", dcn_version="0.1.0"
    )


def assert_no_secret_in(text: str) -> None:
    for name, value in SECRETS.items():
        assert value not in text, f"the value of {name} leaked"
