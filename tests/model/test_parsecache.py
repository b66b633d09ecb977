"""The parse cache is plain JSON under this user's MAC: a hostile state dir runs nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
import shutil
from pathlib import Path

import pytest

import dcn.model.loader as loader
from dcn.model.parsecache import ParseCache, key_path, marks_of, plain
from dcn.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def private_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))


class Payload:
    """Unpickling this writes a marker file: what a hostile cache would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.write_text, (self.marker, "ran"))


def test_a_hostile_state_dir_is_never_executed_nor_trusted(tmp_path: Path) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir()
    shutil.copy(ROOT / "examples" / "dcn-basic.yaml", folder / "dcn.yaml")
    state = folder / ".dcn"
    state.mkdir()
    marker = tmp_path / "marker"
    (state / "parse-cache.pickle").write_bytes(pickle.dumps({"x": Payload(marker)}))
    text = (folder / "dcn.yaml").read_text()
    digest = __import__("hashlib").sha256(text.encode()).hexdigest()
    crafted = {"name": "evil", "networks": {}, "sites": []}
    entry = [crafted, [], [], []]
    doc = {"format": 2, "dcn": __import__("dcn").__version__, "entries": {}}
    doc["entries"][f"{digest}\0{folder / 'dcn.yaml'}"] = entry
    body = json.dumps(doc).encode()
    (state / "parse-cache.json").write_bytes(b"0" * 64 + b"\n" + body)
    (state / "parse-cache.json").chmod(0o600)
    ws = Workspace(folder / "dcn.yaml")
    assert ws.validation.ok
    assert not marker.exists()
    assert ws.loaded.data["name"] == "lab"  # the crafted data was not used


def test_the_cache_is_used_and_written_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    top = tmp_path / "dcn.yaml"
    shutil.copy(ROOT / "examples" / "dcn-basic.yaml", top)
    path = tmp_path / "state" / "parse-cache.json"
    first = loader.load_yaml(top, ParseCache(path)).data
    assert path.stat().st_mode & 0o777 == 0o600
    assert b"pickle" not in path.read_bytes()

    def no_parse(*_: object) -> None:
        raise AssertionError("parsed again although cached")

    monkeypatch.setattr(loader, "compose", no_parse)
    assert loader.load_yaml(top, ParseCache(path)).data == first
    path.write_bytes(path.read_bytes().replace(b'"lab"', b'"bal"'))  # MAC no longer matches
    with pytest.raises(AssertionError, match="parsed again"):
        loader.load_yaml(top, ParseCache(path))


@pytest.mark.parametrize(
    "raw",
    [
        [[["a"], "1", 1]],
        [[[{"x": 1}], 1, 1]],
        [[["a"], 1]],
        [[["a"], 1, 1, 1]],
        [["a", 1, 1]],
        [[[1.5], 1, 1]],
        "text",
        {"a": [1, 1]},
    ],
)
def test_marks_of_the_wrong_shape_are_ignored(raw: object) -> None:
    assert marks_of(raw, "f.yaml") is None


def test_sound_marks_are_read_with_their_file() -> None:
    assert marks_of([[["sites", 0, "name"], 3, 5], [[], 1, 1]], "f.yaml") == {
        ("sites", 0, "name"): ("f.yaml", 3, 5),
        (): ("f.yaml", 1, 1),
    }


def test_plain_data_only() -> None:
    assert plain({"a": [1, 2.5, None, True, "x", {"b": []}]})
    assert not plain({"a": (1, 2)})
    assert not plain({1: "a"})
    deep: object = []
    for _ in range(100):
        deep = [deep]
    assert not plain({"a": deep})


def test_no_cache_is_written_into_a_state_dir_open_to_others(tmp_path: Path) -> None:
    """A `.dcn/` that came with a folder (git gives it 0755) is not written to."""
    folder = tmp_path / "theirs"
    folder.mkdir()
    shutil.copy(ROOT / "examples" / "dcn-basic.yaml", folder / "dcn.yaml")
    state = folder / ".dcn"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    assert Workspace(folder / "dcn.yaml").validation.ok
    assert list(state.iterdir()) == []


def _resign(path: Path, body: bytes) -> None:
    """Write `body` under this user's cache key (what only dcn itself could do)."""
    mac = hmac.new(key_path().read_bytes(), body, hashlib.sha256).hexdigest().encode()
    path.write_bytes(mac + b"\n" + body)


def test_marks_that_do_not_decode_leave_places_at_file_level(tmp_path: Path) -> None:
    """An entry whose data is sound but whose marks are not still loads: a finding is
    placed at its file (no line) instead of failing."""
    top = tmp_path / "dcn.yaml"
    shutil.copy(ROOT / "examples" / "dcn-basic.yaml", top)
    path = tmp_path / "state" / "parse-cache.json"
    cold = loader.load_yaml(top, ParseCache(path))
    header, entry = path.read_bytes().partition(b"\n")[2].split(b"\n")
    count, data, _ = entry.rsplit(b"\t", 2)
    _resign(path, header + b"\n" + count + b"\t" + data + b"\t" + b'[["not", "a", "mark"]]')
    warm = loader.load_yaml(top, ParseCache(path))
    assert warm.data == cold.data
    assert cold.smap.locate(("sites", 0, "name")).line is not None
    where = warm.smap.locate(("sites", 0, "name"))
    assert (where.file, where.line, where.field) == (str(top), None, "sites[0].name")


def test_an_entry_of_the_wrong_shape_is_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    top = tmp_path / "dcn.yaml"
    shutil.copy(ROOT / "examples" / "dcn-basic.yaml", top)
    path = tmp_path / "state" / "parse-cache.json"
    cold = loader.load_yaml(top, ParseCache(path))
    header, entry = path.read_bytes().partition(b"\n")[2].split(b"\n")
    key = entry.split(b"\t", 2)
    parsed = []
    real_compose = loader.compose

    def counting(*args: object) -> object:
        parsed.append(1)
        return real_compose(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "compose", counting)
    for bad in (b"x\t{}\t[]", b"3\t[1, 2]\t[]", b"3\t{bad json\t[]", b"3\t{}"):
        _resign(path, header + b"\n" + key[0] + b"\t" + key[1] + b"\t" + bad)
        assert loader.load_yaml(top, ParseCache(path)).data == cold.data
    assert len(parsed) == 4
