"""Imported exports are untrusted: limits while reading, and every value confined."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dcn.errors import ExportError
from dcn.export import read_export
from dcn.model import limits
from tests.export.conftest import assert_no_secret_in
from tests.model.test_yamlread import BOMB


def written(tmp_path: Path, doc: dict, name: str = "export.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("section", "edit"),
    [
        ("ExtraHostFileEntries", lambda d: d.append("10.0.0.1 evil\n[database]")),
        ("ExtraHostFileEntries", lambda d: d.append("not-an-ip host")),
        ("ExtraHostFileEntries", lambda d: d.append("10.0.0.1 bad_name")),
        ("EndpointMapOverride", lambda d: next(iter(d.values())).update(port="99999")),
        ("EndpointMapOverride", lambda d: next(iter(d.values())).update(protocol="file")),
        ("EndpointMapOverride", lambda d: next(iter(d.values())).update(host="a b")),
        ("EndpointMapOverride", lambda d: d.update(KeystoneInternal={})),
        ("EndpointMapOverride", lambda d: d["KeystoneInternal"].pop("uri_no_suffix")),
        ("EndpointMapOverride", lambda d: d["KeystoneInternal"].update(uri="file:///etc/x")),
        ("EndpointMapOverride", lambda d: d["KeystoneInternal"].update(uri_no_suffix="http://a b")),
        ("AllNodesExtraMapData", lambda d: d.update(nova_api_node_ips=["x"])),
        ("AllNodesExtraMapData", lambda d: d.update(stack_name="a\rb")),
        ("GlobalConfigExtraMapData", lambda d: d.update(x="@@dcn-secret:MysqlRootPassword@@")),
    ],
)
def test_values_are_confined(doc: dict, tmp_path: Path, section: str, edit) -> None:
    edit(doc["parameter_defaults"][section])
    with pytest.raises(ExportError) as exc:
        read_export([written(tmp_path, doc)])
    assert section in exc.value.message and "export.yaml" in exc.value.message
    assert_no_secret_in(str(exc.value) + exc.value.hint)


def test_a_real_export_still_reads(doc: dict, tmp_path: Path) -> None:
    assert read_export([written(tmp_path, doc)]).outputs.hosts_entry


def test_alias_bomb_export_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB + "parameter_defaults: {}\n")
    with pytest.raises(ExportError) as exc:
        read_export([path])
    assert f"{limits.MAX_YAML_NODES:,}" in exc.value.message and "bomb.yaml" in str(exc.value)


@pytest.mark.parametrize("name", ["deep.json", "deep.yaml"])
def test_deep_export_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text('{"parameter_defaults": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ExportError, match="nest"):
        read_export([path])


def test_ambiguous_yaml_in_an_export_is_refused_without_echo(doc: dict, tmp_path: Path) -> None:
    path = written(tmp_path, doc)
    path.write_text(path.read_text() + "  NovaPassword: 0123\n".replace("0123", "0777123"))
    with pytest.raises(ExportError) as exc:
        read_export([path])
    assert "0777123" not in str(exc.value) + exc.value.hint


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"parameter_defaults": {"x": ' + "9" * 5000 + "}}", "number too long"),
        ('{"parameter_defaults": {"a": 1, "a": 2}}', "given twice"),
        ('{"parameter_defaults": {"a": NaN}}', "NaN is not a JSON value"),
    ],
)
def test_json_a_parser_would_accept_is_still_refused(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "export.json"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(ExportError, match=words) as exc:
        read_export([path])
    assert "export.json" in str(exc.value)
