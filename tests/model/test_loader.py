"""The loader keeps file and line of every value, merges includes, rejects ambiguity."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcn.errors import DescriptionError
from dcn.model.description import parse
from dcn.model.loader import load_yaml
from dcn.model.nodes import expand, generated_mac

ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_example_positions() -> None:
    loaded = load_yaml(ROOT / "examples" / "dcn-basic.yaml")
    where = loaded.smap.locate(("sites", 1, "networks", "internal_api"))
    assert where.file.endswith("dcn-basic.yaml")
    line = (ROOT / "examples" / "dcn-basic.yaml").read_text().splitlines()[where.line - 1]
    assert "internal_api" in line and "198.18.17.0/24" in line
    assert where.field == "sites[1].networks.internal_api"


def test_unknown_path_falls_back_to_parent() -> None:
    loaded = load_yaml(ROOT / "examples" / "dcn-basic.yaml")
    parent = loaded.smap.locate(("sites", 2))
    missing = loaded.smap.locate(("sites", 2, "no_such_field"))
    assert missing.line == parent.line
    assert missing.field == "sites[2].no_such_field"


def test_includes_append_sites_with_their_own_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / "sites" / "a.yaml", "sites:\n  - name: a\n    kind: edge\n")
    write(tmp_path / "sites" / "b.yaml", "# b\nsites:\n  - name: b\n    kind: edge\n")
    root = write(
        tmp_path / "dcn.yaml",
        "name: t\ninclude: [sites/*.yaml]\nsites:\n  - name: c\n    kind: control-plane\n",
    )
    loaded = load_yaml(root)
    assert [s["name"] for s in loaded.data["sites"]] == ["c", "a", "b"]
    where = loaded.smap.locate(("sites", 2, "kind"))
    assert where.file.endswith("sites/b.yaml") and where.line == 4
    assert set(loaded.files) == {
        str(root),
        *(str(tmp_path / "sites" / f) for f in ("a.yaml", "b.yaml")),
    }


def test_duplicate_key_is_an_error_with_line(tmp_path: Path) -> None:
    f = write(tmp_path / "d.yaml", "name: a\nnetworks: {}\nname: b\n")
    with pytest.raises(DescriptionError) as exc:
        load_yaml(f)
    assert exc.value.location.line == 3
    assert "twice" in exc.value.message


def test_missing_include(tmp_path: Path) -> None:
    f = write(tmp_path / "d.yaml", "name: a\ninclude: [nope/*.yaml]\n")
    with pytest.raises(DescriptionError) as exc:
        load_yaml(f)
    assert exc.value.location.line == 2 and "matches no file" in exc.value.message


def test_key_set_in_two_files(tmp_path: Path) -> None:
    write(tmp_path / "more.yaml", "name: other\n")
    f = write(tmp_path / "d.yaml", "name: a\ninclude: [more.yaml]\n")
    with pytest.raises(DescriptionError) as exc:
        load_yaml(f)
    assert "set both" in exc.value.message and exc.value.location.file.endswith("more.yaml")


def test_syntax_error_position(tmp_path: Path) -> None:
    f = write(tmp_path / "d.yaml", "name: a\nsites:\n  - name: [b\n")
    with pytest.raises(DescriptionError) as exc:
        load_yaml(f)
    assert exc.value.location.line is not None and exc.value.location.line >= 3


def test_missing_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DescriptionError, match="does not exist"):
        load_yaml(tmp_path / "none.yaml")
    with pytest.raises(DescriptionError, match="empty"):
        load_yaml(write(tmp_path / "e.yaml", "# nothing\n"))


def test_node_expansion_names_and_macs() -> None:
    dep = parse(load_yaml(ROOT / "examples" / "dcn-basic.yaml").data)
    nodes = expand(dep.site("dcn1"), dep.name)
    assert [n.hostname for n in nodes] == ["dcn1-distributedcompute-0"]
    mac = nodes[0].mac
    assert mac == generated_mac("lab", "dcn1-distributedcompute-0")
    assert int(mac.split(":")[0], 16) & 0b10 and not int(mac.split(":")[0], 16) & 0b1
