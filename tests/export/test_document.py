"""build_export and secret substitution: TripleO keys, exactly the secrets given."""

from __future__ import annotations

import json

import pytest

from dcn.errors import ExportError
from dcn.export import build_export, substitute_secrets
from dcn.export.document import RESERVED_KEYS, SEED_EXTRA_CONFIG
from dcn.plan.types import ControlPlaneOutputs, ExportVersion, secret_ref
from tests.export.conftest import SECRETS, assert_no_secret_in

OUTPUT_PARAMETERS = (
    "EndpointMapOverride",
    "AllNodesExtraMapData",
    "GlobalConfigExtraMapData",
    "ExtraHostFileEntries",
)


def test_export_has_tripleo_keys_and_a_version(doc: dict, outputs: ControlPlaneOutputs) -> None:
    assert list(doc) == ["parameter_defaults"]
    params = doc["parameter_defaults"]
    for key in OUTPUT_PARAMETERS:
        assert key in params
    assert params["EndpointMapOverride"] == outputs.endpoint_map
    assert params["ExtraHostFileEntries"] == outputs.hosts_entry
    assert params["AllNodesExtraMapData"] == outputs.all_nodes_config
    assert params["AddVipsToEtcHosts"] is False
    assert params["AuthCloudName"] == "central"
    assert params["ExtraConfig"] == SEED_EXTRA_CONFIG
    assert params["DcnExportVersion"] == {
        "stack": "central",
        "generation": 3,
        "digest": outputs.digest(),
        "scope": "least-privilege",
        "for_site": "dcn0",
        "dcn_version": "0.1.0",
    }


def test_exactly_the_given_secrets_with_references_replaced(
    doc: dict, outputs: ControlPlaneOutputs
) -> None:
    params = doc["parameter_defaults"]
    assert set(params) - RESERVED_KEYS == set(SECRETS)
    assert all(params[name] == value for name, value in SECRETS.items())
    for kind in ("rpc", "notify"):
        password = params["GlobalConfigExtraMapData"][f"oslo_messaging_{kind}_password"]
        assert password == SECRETS["RabbitPassword"]
    assert "@@dcn-secret:" not in json.dumps(doc)
    # the outputs themselves are untouched (still references)
    assert outputs.global_config["oslo_messaging_rpc_password"] == secret_ref("RabbitPassword")


def test_missing_secret_is_named_without_values(
    outputs: ControlPlaneOutputs, version: ExportVersion
) -> None:
    partial = {k: v for k, v in SECRETS.items() if k != "RabbitPassword"}
    with pytest.raises(ExportError) as err:
        build_export(outputs, version, partial, scope="full", for_site=None)
    assert "RabbitPassword" in str(err.value)
    assert_no_secret_in(str(err.value) + err.value.hint)


def test_substitution_walks_nested_structures() -> None:
    value = {
        "a": [{"b": (f"x{secret_ref('A')}y{secret_ref('B')}",)}, 3, None, True],
        "c": secret_ref("B"),
    }
    assert substitute_secrets(value, {"A": "1", "B": "2"}) == {
        "a": [{"b": ["x1y2"]}, 3, None, True],
        "c": "2",
    }


def test_every_missing_secret_is_named_once() -> None:
    value = [secret_ref("Zeta"), {"k": secret_ref("Alpha") + secret_ref("Zeta")}]
    with pytest.raises(ExportError) as err:
        substitute_secrets(value, {"Other": "s3cr3t-other"})
    assert "Alpha, Zeta" in str(err.value)
    assert "s3cr3t-other" not in str(err.value) + err.value.hint


@pytest.mark.parametrize(
    ("secrets", "scope", "needle"),
    [
        (SECRETS, "everything", "scope"),
        ({**SECRETS, "EndpointMapOverride": "x"}, "full", "EndpointMapOverride"),
        ({**SECRETS, "bad name": "x"}, "full", "bad name"),
    ],
)
def test_bad_requests_are_clear_errors(
    outputs: ControlPlaneOutputs, version: ExportVersion, secrets: dict, scope: str, needle: str
) -> None:
    with pytest.raises(ExportError) as err:
        build_export(outputs, version, secrets, scope=scope, for_site=None)
    assert needle in str(err.value)
    assert_no_secret_in(str(err.value) + err.value.hint)
