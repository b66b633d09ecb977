"""write_export: mode 0600 whatever the umask, atomic, never replaces without --force."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml

from dcn.errors import ExportError
from dcn.export import build_export, write_export
from dcn.plan.types import ControlPlaneOutputs, ExportVersion
from tests.export.conftest import SECRETS, assert_no_secret_in


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_written_0600_whatever_the_umask(doc: dict, tmp_path: Path, umask: int) -> None:
    target = tmp_path / "export.yaml"
    old = os.umask(umask)
    try:
        write_export(doc, target, force=False)
    finally:
        os.umask(old)
    assert mode(target) == 0o600
    assert yaml.safe_load(target.read_text()) == doc
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.yaml"]  # no temp file left


def test_header_says_what_it_is_and_how_to_use_it(doc: dict, tmp_path: Path) -> None:
    target = tmp_path / "central-export.yaml"
    write_export(doc, target, force=False)
    text = target.read_text()
    header = text[: text.index("parameter_defaults:")]
    assert all(line.startswith("#") for line in header.strip().splitlines())
    assert "central@3" in header and "least-privilege, for dcn0" in header
    assert "openstack overcloud deploy" in header and "-e central-export.yaml" in header
    assert "control_plane_export: central-export.yaml" in header
    assert "SECRETS" in header
    assert_no_secret_in(header)


def test_refuses_to_replace_an_export_without_force(doc: dict, tmp_path: Path) -> None:
    target = tmp_path / "export.yaml"
    write_export(doc, target, force=False)
    before = target.read_text()
    with pytest.raises(ExportError) as err:
        write_export({"parameter_defaults": {}}, target, force=False)
    message = str(err.value)
    assert f"{target} exists; pass --force to replace it" in message
    assert "the old export is central@3" in message
    assert_no_secret_in(message + err.value.hint)
    assert target.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.yaml"]


def test_refusal_describes_a_file_that_is_not_an_export(doc: dict, tmp_path: Path) -> None:
    target = tmp_path / "notes.yaml"
    target.write_text("just: notes\n")
    with pytest.raises(ExportError, match="old export is not a dcn export"):
        write_export(doc, target, force=False)


def test_force_replaces_and_the_result_is_private(
    outputs: ControlPlaneOutputs, doc: dict, tmp_path: Path
) -> None:
    target = tmp_path / "export.yaml"
    target.write_text("old: world-readable\n")
    target.chmod(0o644)
    newer = build_export(
        outputs, ExportVersion("central", 4, outputs.digest()), SECRETS, scope="full", for_site=None
    )
    write_export(newer, target, force=True)
    assert mode(target) == 0o600
    loaded = yaml.safe_load(target.read_text())
    assert loaded["parameter_defaults"]["DcnExportVersion"]["generation"] == 4


def test_a_missing_directory_is_a_clear_error(doc: dict, tmp_path: Path) -> None:
    with pytest.raises(ExportError) as err:
        write_export(doc, tmp_path / "nowhere" / "export.yaml", force=False)
    assert "is not a directory" in str(err.value) and "mkdir -p" in err.value.hint


def test_a_directory_as_target_is_refused(doc: dict, tmp_path: Path) -> None:
    (tmp_path / "export.yaml").mkdir()
    with pytest.raises(ExportError, match="it is a directory"):
        write_export(doc, tmp_path / "export.yaml", force=True)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_directory_is_a_clear_error(doc: dict, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(ExportError, match="not writable"):
            write_export(doc, locked / "export.yaml", force=False)
    finally:
        locked.chmod(0o700)
