"""read_export: dcn exports round trip; TripleO exports, split or whole, read the same way."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcn.errors import ExportError
from dcn.export import ImportedExport, build_export, read_export, write_export
from dcn.plan.types import ControlPlaneOutputs, ExportVersion, secret_ref
from tests.export.conftest import SECRETS, assert_no_secret_in, make_outputs

RABBIT = SECRETS["RabbitPassword"]
REQUIRED = ("EndpointMapOverride", "AllNodesExtraMapData", "GlobalConfigExtraMapData")


def required(**params: Any) -> dict[str, Any]:
    """The keys every export must have (empty), plus `params`."""
    return {key: {} for key in REQUIRED} | params


def env(path: Path, params: dict[str, Any], mode: int = 0o600) -> Path:
    """An environment file as the seed's commands write them (JSON or YAML by suffix)."""
    doc = {"parameter_defaults": params}
    path.write_text(json.dumps(doc) if path.suffix == ".json" else yaml.safe_dump(doc))
    path.chmod(mode)
    return path


def tripleo_files(tmp_path: Path, outputs: ControlPlaneOutputs) -> list[Path]:
    """The seed's split export: numbers for ports, the broker password as a value."""
    endpoints = {
        name: {**entry, "port": int(entry["port"])} for name, entry in outputs.endpoint_map.items()
    }
    global_config = {
        k: (RABBIT if v == secret_ref("RabbitPassword") else v)
        for k, v in outputs.global_config.items()
    }
    global_config["oslo_messaging_rpc_port"] = 5672
    passwords = {
        "RabbitPassword": RABBIT,
        "NovaPassword": SECRETS["NovaPassword"],
        "KeystoneCredential0": "cred0-VALUE-zzz",
        "KeystoneFernetKeys": {
            "/etc/keystone/fernet-keys/0": {"content": SECRETS["KeystoneFernetKey0"]},
            "/etc/keystone/fernet-keys/1": {"content": "fernet1-VALUE-yyy"},
        },
        "MigrationSshKey": {"private_key": "not-for-dcn", "public_key": "ssh-rsa x"},
        "HeatAuthEncryptionKey": "not-for-dcn-either",
    }
    files = {
        "endpoint-map.json": {"EndpointMapOverride": endpoints},
        "all-nodes-extra-map-data.json": {"AllNodesExtraMapData": outputs.all_nodes_config},
        "global-config-extra-map-data.json": {"GlobalConfigExtraMapData": global_config},
        "extra-host-file-entries.json": {"ExtraHostFileEntries": outputs.hosts_entry},
        "passwords.yaml": passwords,
    }
    return [env(tmp_path / name, params) for name, params in files.items()]


# -- dcn exports -------------------------------------------------------------------


@pytest.mark.parametrize("ipv6", [False, True])
def test_build_write_read_round_trip(tmp_path: Path, ipv6: bool) -> None:
    outputs = make_outputs(ipv6)
    version = ExportVersion("central", 7, outputs.digest())
    doc = build_export(outputs, version, SECRETS, scope="full", for_site=None)
    write_export(doc, tmp_path / "export.yaml", force=False)
    imported = read_export([tmp_path / "export.yaml"])
    assert imported.outputs == outputs
    assert imported.outputs.digest() == outputs.digest()
    assert imported.secrets == SECRETS
    assert imported.version == version
    assert imported.files == (tmp_path / "export.yaml",)
    assert imported.warnings == ()


def test_repr_of_an_import_shows_no_secret(doc: dict, tmp_path: Path) -> None:
    write_export(doc, tmp_path / "export.yaml", force=False)
    imported = read_export([tmp_path / "export.yaml"])
    assert_no_secret_in(repr(imported))
    assert_no_secret_in(json.dumps(dataclasses.asdict(imported.outputs)))


def test_an_edited_export_is_reported(doc: dict, tmp_path: Path) -> None:
    doc["parameter_defaults"]["ExtraHostFileEntries"].append("198.18.16.99 extra.localdomain extra")
    write_export(doc, tmp_path / "export.yaml", force=False)
    imported = read_export([tmp_path / "export.yaml"])
    assert any("do not match the digest" in w for w in imported.warnings)


# -- TripleO exports ---------------------------------------------------------------


def test_split_tripleo_export(outputs: ControlPlaneOutputs, tmp_path: Path) -> None:
    files = tripleo_files(tmp_path, outputs)
    imported = read_export(files)
    assert imported.files == tuple(files)
    assert imported.outputs.endpoint_map == outputs.endpoint_map  # ports back to strings
    assert imported.outputs.all_nodes_config == outputs.all_nodes_config
    assert imported.outputs.hosts_entry == outputs.hosts_entry
    cfg = imported.outputs.global_config
    assert cfg["oslo_messaging_rpc_password"] == secret_ref("RabbitPassword")
    assert cfg["oslo_messaging_notify_password"] == secret_ref("RabbitPassword")
    assert cfg["oslo_messaging_rpc_port"] == 5672
    assert imported.secrets == {
        "RabbitPassword": RABBIT,
        "NovaPassword": SECRETS["NovaPassword"],
        "KeystoneCredential0": "cred0-VALUE-zzz",
        "KeystoneFernetKey0": SECRETS["KeystoneFernetKey0"],
        "KeystoneFernetKey1": "fernet1-VALUE-yyy",
    }
    # TripleO wrote no version: the stack's own name, generation 0, the outputs' digest
    assert imported.outputs.stack == "central"  # from AllNodesConfig stack_name
    assert imported.version == ExportVersion("central", 0, imported.outputs.digest())
    assert imported.warnings == ()
    assert_no_secret_in(json.dumps(dataclasses.asdict(imported.outputs)))


def test_auth_cloud_name_names_a_foreign_stack(tmp_path: Path) -> None:
    imported = read_export([env(tmp_path / "export.yaml", required(AuthCloudName="overcloud"))])
    assert imported.version is not None and imported.version.stack == "overcloud"
    assert imported.version.generation == 0 and imported.outputs.hosts_entry == []
    (tmp_path / "bare.yaml").write_text(
        "parameter_defaults: {EndpointMapOverride: {}, AllNodesExtraMapData: {},"
        " GlobalConfigExtraMapData: {}}\n"
    )
    assert read_export([tmp_path / "bare.yaml"]).outputs.stack == "external"


def test_cells_style_passwords_in_all_nodes_data_are_scrubbed(tmp_path: Path) -> None:
    """The TripleO cells guide merged GlobalConfig into AllNodesExtraMapData."""
    files = [
        env(
            tmp_path / "all.json",
            {
                "EndpointMapOverride": {},
                "GlobalConfigExtraMapData": {},
                "AllNodesExtraMapData": {
                    "oslo_messaging_rpc_password": RABBIT,
                    "oslo_messaging_notify_password": RABBIT,
                    "oslo_messaging_rpc_node_names": ["c0.internalapi.site1.test"],
                    "some_db_password": "other-VALUE-1",
                },
            },
        )
    ]
    imported = read_export(files)
    nodes = imported.outputs.all_nodes_config
    assert nodes["oslo_messaging_rpc_password"] == secret_ref("RabbitPassword")
    assert "some_db_password" not in nodes
    assert imported.secrets == {"RabbitPassword": RABBIT}
    assert any("dropped some_db_password" in w for w in imported.warnings)
    assert all("other-VALUE-1" not in w and RABBIT not in w for w in imported.warnings)


def test_broker_password_differing_from_rabbit_password_warns(
    outputs: ControlPlaneOutputs, tmp_path: Path
) -> None:
    files = tripleo_files(tmp_path, outputs)
    env(files[-1], {"RabbitPassword": "stale-VALUE-0000"})
    imported = read_export(files)
    assert imported.secrets["RabbitPassword"] == RABBIT  # what the broker's clients use
    (warning,) = imported.warnings
    assert "RabbitPassword" in warning and "oslo_messaging_rpc_password" in warning
    assert "stale-VALUE-0000" not in warning and RABBIT not in warning


def test_the_same_key_twice_with_the_same_value_is_fine(
    outputs: ControlPlaneOutputs, tmp_path: Path
) -> None:
    files = tripleo_files(tmp_path, outputs)
    again = env(tmp_path / "again.yaml", {"RabbitPassword": RABBIT})
    assert read_export([*files, again]).secrets["RabbitPassword"] == RABBIT


def test_a_key_twice_with_different_values_names_both_files(
    outputs: ControlPlaneOutputs, tmp_path: Path
) -> None:
    files = tripleo_files(tmp_path, outputs)
    other = env(tmp_path / "other.yaml", {"ExtraHostFileEntries": ["198.18.0.9 x.localdomain x"]})
    with pytest.raises(ExportError) as err:
        read_export([*files, other])
    message = str(err.value)
    assert "ExtraHostFileEntries" in message
    assert str(files[3]) in message and str(other) in message


def test_missing_keys_say_how_to_produce_them(outputs: ControlPlaneOutputs, tmp_path: Path) -> None:
    files = tripleo_files(tmp_path, outputs)
    given = [files[0], files[4]]  # endpoint map and passwords only
    with pytest.raises(ExportError) as err:
        read_export(given)
    message, hint = str(err.value), err.value.hint
    assert "AllNodesExtraMapData" in message and "GlobalConfigExtraMapData" in message
    assert "EndpointMapOverride" not in message
    assert all(str(p) in message for p in given)
    assert "openstack stack output show $STACK AllNodesConfig --format json" in hint
    assert '"AllNodesExtraMapData": .output_value' in hint
    assert "global-config-extra-map-data.json" in hint
    assert_no_secret_in(message + hint)


def test_a_loose_mode_on_a_file_with_secrets_is_a_warning(
    outputs: ControlPlaneOutputs, tmp_path: Path
) -> None:
    files = tripleo_files(tmp_path, outputs)
    files[0].chmod(0o644)  # the endpoint map holds no secret: no warning for it
    files[2].chmod(0o644)  # the global config holds the broker password
    files[4].chmod(0o640)
    imported = read_export(files)
    assert len(imported.warnings) == 2
    assert f"chmod 600 {files[2]}" in imported.warnings[0]
    assert "0640" in imported.warnings[1] and str(files[4]) in imported.warnings[1]


# -- errors never carry secret values ----------------------------------------------


def _bad_yaml(tmp_path: Path) -> list[Path]:
    path = tmp_path / "passwords.yaml"
    path.write_text(f"parameter_defaults:\n  RabbitPassword: {RABBIT}\n  NovaPassword: [{RABBIT}\n")
    return [path]


def _bad_json(tmp_path: Path) -> list[Path]:
    path = tmp_path / "passwords.json"
    path.write_text('{"parameter_defaults": {"RabbitPassword": "' + RABBIT + '" "x": 1}}')
    return [path]


def _conflicting_secret(tmp_path: Path) -> list[Path]:
    return [
        env(tmp_path / "a.yaml", {"RabbitPassword": RABBIT}),
        env(tmp_path / "b.yaml", {"RabbitPassword": SECRETS["NovaPassword"]}),
    ]


def _secret_not_a_string(tmp_path: Path) -> list[Path]:
    return [env(tmp_path / "p.yaml", required(NovaPassword=[RABBIT]))]


def _no_parameter_defaults(tmp_path: Path) -> list[Path]:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"passwords": {"RabbitPassword": RABBIT}}))
    return [path]


def _bad_version(tmp_path: Path) -> list[Path]:
    params = required(
        GlobalConfigExtraMapData={"oslo_messaging_rpc_password": RABBIT},
        DcnExportVersion={"stack": "central", "generation": RABBIT},
    )
    return [env(tmp_path / "p.yaml", params)]


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (_bad_yaml, "not valid YAML"),
        (_bad_json, "not valid JSON"),
        (_conflicting_secret, "RabbitPassword has different values"),
        (_secret_not_a_string, "NovaPassword"),
        (_no_parameter_defaults, "no parameter_defaults"),
        (_bad_version, "DcnExportVersion"),
        (lambda tmp: [tmp / "absent.yaml"], "does not exist"),
    ],
)
def test_errors_name_the_problem_and_never_a_secret(tmp_path: Path, make, needle: str) -> None:
    files = make(tmp_path)
    with pytest.raises(ExportError) as err:
        read_export(files)
    assert needle in str(err.value)
    assert str(files[0]) in str(err.value)
    assert_no_secret_in(str(err.value) + err.value.hint + repr(err.value.location))


def test_yaml_errors_point_at_the_line(tmp_path: Path) -> None:
    with pytest.raises(ExportError) as err:
        read_export(_bad_yaml(tmp_path))
    assert err.value.location is not None and err.value.location.line == 4


def test_imported_export_type() -> None:
    fields = {f.name for f in dataclasses.fields(ImportedExport)}
    assert {"outputs", "version", "secrets", "files", "warnings"} <= fields


def test_known_secrets_extend_the_password_naming(tmp_path: Path) -> None:
    path = env(tmp_path / "e.yaml", required(HorizonSecret="horizon-VALUE-1", Other="plain"))
    assert read_export([path]).secrets == {}
    assert read_export([path], known_secrets=["HorizonSecret"]).secrets == {
        "HorizonSecret": "horizon-VALUE-1"
    }
