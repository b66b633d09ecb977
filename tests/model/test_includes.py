"""Includes stay inside the description's folder and are bounded in files, depth, sites, nodes."""

from __future__ import annotations

from pathlib import Path

import pytest

import dcn.model.loader as loader
from dcn.errors import DescriptionError
from dcn.model.loader import load_yaml

SITE = "sites:\n  - name: {n}\n    kind: edge\n    roles: {{DistributedCompute: {{count: 5}}}}\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("pattern", "words"), [("/etc/*.yaml", "absolute"), ("../other/*.yaml", "'..'")]
)
def test_absolute_and_dotdot_includes_are_refused(tmp_path: Path, pattern: str, words: str) -> None:
    write(tmp_path / "other" / "s.yaml", SITE.format(n="s"))
    top = write(tmp_path / "desc" / "dcn.yaml", f"name: t\ninclude:\n  - {pattern}\n")
    with pytest.raises(DescriptionError) as exc:
        load_yaml(top)
    assert words in exc.value.message and pattern in exc.value.message
    assert exc.value.location.line == 3 and "--allow-include-outside" in exc.value.hint


def test_a_symlink_out_of_the_folder_is_refused_unless_allowed(tmp_path: Path) -> None:
    outside = write(tmp_path / "other" / "s.yaml", SITE.format(n="s"))
    (tmp_path / "desc").mkdir()
    (tmp_path / "desc" / "s.yaml").symlink_to(outside)
    top = write(tmp_path / "desc" / "dcn.yaml", "name: t\ninclude: [s.yaml]\n")
    with pytest.raises(DescriptionError, match="outside"):
        load_yaml(top)
    assert load_yaml(top, allow_outside=True).data["sites"][0]["name"] == "s"
    rel = write(tmp_path / "desc" / "up.yaml", "name: t\ninclude: [../other/s.yaml]\n")
    assert load_yaml(rel, allow_outside=True).data["sites"][0]["name"] == "s"


def test_include_depth_is_bounded(tmp_path: Path) -> None:
    depth = loader.MAX_INCLUDE_DEPTH + 2
    for i in range(depth):
        write(tmp_path / f"f{i}.yaml", f"include: [f{i + 1}.yaml]\n" if i else "")
    write(tmp_path / f"f{depth}.yaml", SITE.format(n="s"))
    top = write(tmp_path / "f0.yaml", "name: t\ninclude: [f1.yaml]\n")
    with pytest.raises(DescriptionError) as exc:
        load_yaml(top)
    assert f"deeper than {loader.MAX_INCLUDE_DEPTH}" in exc.value.message


@pytest.mark.parametrize(
    ("limit", "words"),
    [("MAX_FILES", "file limit"), ("MAX_SITES", "site limit"), ("MAX_NODES", "node limit")],
)
def test_files_sites_and_nodes_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str, words: str
) -> None:
    monkeypatch.setattr(loader, limit, 3 if limit != "MAX_NODES" else 12)
    for n in range(4):
        write(tmp_path / "sites" / f"s{n}.yaml", SITE.format(n=f"s{n}"))
    top = write(tmp_path / "dcn.yaml", "name: t\ninclude: [sites/*.yaml]\n")
    with pytest.raises(DescriptionError) as exc:
        load_yaml(top)
    assert words in exc.value.message and exc.value.location.file.endswith(".yaml")


@pytest.mark.parametrize("ref", ["/etc/prod-export.yaml", "../prod/export.yaml", "link.yaml"])
def test_control_plane_export_stays_in_the_folder(tmp_path: Path, ref: str) -> None:
    """An export holds another cloud's passwords: a description may not reach for one."""
    folder = tmp_path / "theirs"
    folder.mkdir()
    (tmp_path / "outside.yaml").write_text("parameter_defaults: {}\n")
    (folder / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    top = folder / "dcn.yaml"
    top.write_text(f"name: x\ncontrol_plane_export: {ref}\n")
    with pytest.raises(DescriptionError, match=r"absolute path|climbs out|outside") as exc:
        load_yaml(top, allow_outside=False)
    assert exc.value.location is not None and exc.value.location.line == 2
    assert load_yaml(top, allow_outside=True).data["control_plane_export"] == ref
