"""Places of values read through nested includes are the same from a cold and a warm
parse cache: included files' marks are referred to (and decoded lazily), not copied."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dcn.model.loader import load_yaml
from dcn.model.parsecache import ParseCache
from dcn.model.sourcemap import SourceMap


@pytest.fixture(autouse=True)
def private_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))


def _paths(value: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for k, item in enumerate(value):
            yield from _paths(item, (*path, k))


def _site(name: str, indent: str = "  ") -> str:
    return (
        f"{indent}- name: {name}\n{indent}  kind: edge\n{indent}  roles:\n"
        f"{indent}    DistributedCompute: {{count: 2}}\n"
    )


def _write(root: Path) -> Path:
    (root / "more").mkdir()
    (root / "dcn.yaml").write_text(
        "name: f\ninclude: [a.yaml, more/*.yaml]\nsites:\n" + _site("top")
    )
    (root / "a.yaml").write_text(
        "include: [b.yaml]\nnetworks:\n  ctlplane: {}\nsites:\n" + _site("a1") + _site("a2")
    )
    (root / "b.yaml").write_text("domain: example.com\nsites:\n" + _site("b1"))
    (root / "more" / "c.yaml").write_text("sites: []\n")
    (root / "more" / "d.yaml").write_text("\n\nsites:\n" + _site("d1") + _site("d2"))
    return root / "dcn.yaml"


def test_every_value_is_placed_alike_from_a_cold_and_a_warm_cache(tmp_path: Path) -> None:
    top = _write(tmp_path)
    cache = tmp_path / "state" / "parse-cache.json"
    cold = load_yaml(top, ParseCache(cache))
    warm = load_yaml(top, ParseCache(cache))
    plain = load_yaml(top)
    assert cold.data == warm.data == plain.data
    names = [s["name"] for s in plain.data["sites"]]
    assert names == ["top", "a1", "a2", "b1", "d1", "d2"]
    for path in [*_paths(plain.data), ("sites", 9, "x"), ("nothing",)]:
        assert cold.smap.locate(path) == warm.smap.locate(path) == plain.smap.locate(path)
    where = warm.smap.locate(("sites", 3, "roles", "DistributedCompute", "count"))
    assert (where.file, where.line) == (str(tmp_path / "b.yaml"), 6)
    where = warm.smap.locate(("sites", 5, "name"))
    assert (where.file, where.line) == (str(tmp_path / "more" / "d.yaml"), 8)
    assert warm.smap.file_of(("domain",)) == str(tmp_path / "b.yaml")
    assert warm.smap.file_of(("networks", "ctlplane")) == str(tmp_path / "a.yaml")


def test_marks_left_for_later_are_decoded_once_when_first_asked_for() -> None:
    calls = []

    def decode() -> dict:
        calls.append(1)
        return {("a",): ("f.yaml", 2, 3)}

    smap = SourceMap("f.yaml", decode)
    assert calls == []
    assert smap.locate(("a", "b")).line == 2
    assert smap.locate(("a",)).column == 3
    assert calls == [1]
