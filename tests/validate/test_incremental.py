"""Validation helped by the memo gives exactly what a full validation gives.

A fleet is edited step by step (a site changed, renamed onto another, its leaf moved
onto another's, a schema error, a second control plane, a file removed or added, a
setting of the whole description, a revert, a touch) and after each step the findings,
the sites' refs and the parsed deployment of a memo-helped validation (the state dir
of the earlier steps) are compared with those of a validation from nothing. Files get
times in the past, as files an operator edited a while ago have, so the memo trusts
their stat and the incremental path is the one under test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dcn.model.loader as loader
import dcn.validate as validation
import dcn.validate.memo as memo_module
from dcn.model.loader import load_yaml
from dcn.validate import ValidationResult, validate
from dcn.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
EDGES = 8


@pytest.fixture(autouse=True)
def trusted_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written a moment before a validation are trusted by their stat from the
    next one on (the tick test below puts the margin back)."""
    monkeypatch.setattr(memo_module, "RACY_NS", 0)


@pytest.fixture(autouse=True)
def private_cache_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache-home")))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("template") / "fleet"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "generate.py"),
            "--edges",
            str(EDGES),
            "--computes",
            "2",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return out


class Fleet:
    """A fleet folder whose files look edited long ago (a distinct past time per write)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.clock = time.time() - 10_000
        for path in root.rglob("*.yaml"):
            self._age(path)

    def _age(self, path: Path) -> None:
        self.clock += 1
        os.utime(path, (self.clock, self.clock))

    @property
    def top(self) -> Path:
        return self.root / "dcn.yaml"

    def sites(self) -> list[Path]:
        return sorted((self.root / "sites").glob("*.yaml"))

    def read(self, path: Path) -> dict[str, Any]:
        return yaml.safe_load(path.read_text())

    def write(self, path: Path, doc: dict[str, Any] | str) -> None:
        path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
        self._age(path)

    def edit_site(self, k: int, change: Any) -> None:
        path = self.sites()[k % len(self.sites())]
        doc = self.read(path)
        change(doc["sites"][0])
        self.write(path, doc)


def _view(result: ValidationResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ok": result.ok,
        "findings": [f.as_dict() for f in result.findings],
    }
    if result.fleet is not None:
        out["refs"] = result.fleet.refs
        out["deployment"] = result.fleet.deployment.model_dump()
    return out


def _same_as_full(fleet: Fleet, state: Path) -> None:
    helped = _view(Workspace(fleet.top, state).validation)
    full = _view(validate(load_yaml(fleet.top)))
    assert helped == full


def _edits(fleet: Fleet, k: int, j: int) -> dict[str, Any]:
    """Edits by name; each takes site indices k and j."""
    other = fleet.read(fleet.sites()[j % len(fleet.sites())])["sites"][0]
    return {
        "count": lambda s: s["roles"]["DistributedCompute"].update(count=1 + (k + j) % 4),
        "rename-onto-other": lambda s: s.update(name=other["name"]),
        "leaf-onto-other": lambda s: s["networks"].update(ctlplane=other["networks"]["ctlplane"]),
        "schema-error": lambda s: s["roles"]["DistributedCompute"].update(count="three"),
        "second-control-plane": lambda s: s.update(kind="control-plane"),
        "tunnelling-warning": lambda s: s.update(sdn={"mechanism": "ovn", "tunnelling": True}),
        "az-of-other": lambda s: s.update(availability_zone=other["name"]),
        "hostname-of-other": lambda s: s["roles"]["DistributedCompute"].update(
            hostname_format=f"{other['name']}-distributedcompute-%index%"
        ),
        "listed-mac": lambda s: s["roles"]["DistributedCompute"].update(
            nodes=[{"hostname": f"{s['name']}-listed", "mac": "52:54:00:00:00:01"}]
        ),
    }


SITE_EDITS = [
    "count",
    "rename-onto-other",
    "leaf-onto-other",
    "schema-error",
    "second-control-plane",
    "tunnelling-warning",
    "az-of-other",
    "hostname-of-other",
    "listed-mac",
]
FILE_EDITS = [
    "remove-file",
    "add-file",
    "revert-file",
    "touch-file",
    "domain",
    "cp-leaf",
    "workload-networks",
]


def _workload_networks(fleet: Fleet, k: int, j: int) -> list[dict[str, Any]]:
    """A provider network with a segment at the site of file k (on that site's own
    internal_api leaf one time in three: DCN706 at the site) and a tenant network over
    the site of file j (DCN709 unless it tunnels; DCN710 at every other edge)."""
    sites = fleet.sites()
    seg_site = fleet.read(sites[k % len(sites)])["sites"][0]
    tenant_site = fleet.read(sites[j % len(sites)])["sites"][0]["name"]
    leaf = seg_site["networks"]["internal_api"]["cidr"]
    subnet = leaf if (k + j) % 3 == 0 else f"100.64.{k}.0/24"
    segment = {"site": seg_site["name"], "network_type": "vlan", "vlan": 10 + j, "subnet": subnet}
    return [
        {"name": "edge", "kind": "provider", "segments": [segment]},
        {"name": "overlay", "kind": "tenant", "cidr": "10.99.0.0/24", "sites": [tenant_site]},
    ]


def _apply(fleet: Fleet, action: str, k: int, j: int, originals: dict[Path, str]) -> None:
    if action in SITE_EDITS:
        fleet.edit_site(k, _edits(fleet, k, j)[action])
        return
    sites = fleet.sites()
    path = sites[k % len(sites)]
    if action == "remove-file" and len(sites) > 2:
        path.unlink()
    elif action == "add-file":
        doc = fleet.read(path)
        doc["sites"][0]["name"] = f"extra{k}{j}"
        fleet.write(path.with_name(f"extra{k}{j}.yaml"), doc)
    elif action == "revert-file" and path in originals:
        fleet.write(path, originals[path])
    elif action == "touch-file":
        fleet.write(path, path.read_text())
    elif action == "domain":
        text = fleet.top.read_text()
        fleet.write(
            fleet.top,
            text.replace("domain: example.com", f"domain: e{k}.example.com", 1)
            if "domain: example.com" in text
            else text.replace("domain: e", "domain: f", 1),
        )
    elif action == "cp-leaf":
        doc = fleet.read(fleet.top)
        doc["sites"][0]["networks"]["external"] = {"cidr": f"10.6.{k % 200}.0/28"}
        fleet.write(fleet.top, doc)
    elif action == "workload-networks":
        doc = fleet.read(fleet.top)
        doc["workload_networks"] = _workload_networks(fleet, k, j)
        fleet.write(fleet.top, doc)


@settings(
    max_examples=int(os.environ.get("DCN_FUZZ_EXAMPLES", "25")),
    deadline=None,
    database=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(SITE_EDITS + FILE_EDITS),
            st.integers(0, EDGES + 2),
            st.integers(0, EDGES + 2),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_memo_helped_validation_equals_full_validation(
    template: Path, tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int, int]]
) -> None:
    root = tmp_path_factory.mktemp("fleet")
    shutil.copytree(template, root / "fleet")
    fleet = Fleet(root / "fleet")
    state = root / "state"
    originals = {p: p.read_text() for p in fleet.sites()}
    _same_as_full(fleet, state)  # the memo is written
    for action, k, j in steps:
        _apply(fleet, action, k, j, originals)
        _same_as_full(fleet, state)


def test_a_one_site_edit_reads_one_site_file_and_checks_one_site(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The incremental path is the one taken: the top file and the edited file are read,
    one site is checked, and the cross-site rules are not run on every summary."""
    shutil.copytree(template, tmp_path / "fleet")
    fleet = Fleet(tmp_path / "fleet")
    state = tmp_path / "state"
    assert Workspace(fleet.top, state).validation.ok
    fleet.edit_site(3, lambda s: s["roles"]["DistributedCompute"].update(count=3))
    read: list[str] = []
    checked: list[int] = []
    real_read, real_check = loader.read_text, validation.check_site
    monkeypatch.setattr(loader, "read_text", lambda p, *a: read.append(str(p)) or real_read(p, *a))
    monkeypatch.setattr(
        validation,
        "check_site",
        lambda lo, fr, i, *a: checked.append(i) or real_check(lo, fr, i, *a),
    )

    def everything(*_: object) -> None:
        raise AssertionError("cross-site rules ran on every summary")

    monkeypatch.setattr(validation, "fleetwide_findings", everything)
    result = Workspace(fleet.top, state).validation
    assert result.ok
    assert sorted(Path(p).name for p in read) == ["dcn.yaml", fleet.sites()[3].name]
    assert checked == [0, 4]  # the control plane (in the top file) and the edited site
    assert result.fleet is not None and len(result.fleet.refs) == EDGES + 1


def test_a_stat_recorded_in_the_tick_the_file_changed_is_not_trusted(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose times are not older than the load that recorded them may have
    changed after that load read it, within one clock tick: its stat is not trusted."""
    monkeypatch.setattr(memo_module, "RACY_NS", 100_000_000)
    shutil.copytree(template, tmp_path / "fleet")
    fleet = Fleet(tmp_path / "fleet")
    state = tmp_path / "state"
    assert Workspace(fleet.top, state).validation.ok
    path = fleet.sites()[2]
    shown = str(path)
    key = loader.stat_key(os.stat(path))
    memo = memo_module.ValidationMemo(state)
    memo._recorded = max(key[3], key[4]) + 10**9  # recorded a second after its last change
    assert memo.known(shown, key) is not None
    memo._recorded = max(key[3], key[4]) + 50_000_000  # in the same tick
    assert memo.known(shown, key) is None
    assert memo.known(shown, (*key[:3], key[3] + 1, key[4])) is None  # another stat


def test_a_memo_that_is_not_ours_is_ignored(template: Path, tmp_path: Path) -> None:
    shutil.copytree(template, tmp_path / "fleet")
    fleet = Fleet(tmp_path / "fleet")
    state = tmp_path / "state"
    assert Workspace(fleet.top, state).validation.ok
    memo = state / "validation-memo.json"
    memo.write_bytes(memo.read_bytes().replace(b"dcn3", b"dcn9"))  # its MAC no longer holds
    fleet.edit_site(1, lambda s: s["roles"]["DistributedCompute"].update(count=1))
    _same_as_full(fleet, state)


def test_sites_moved_by_a_removed_file_are_neither_read_nor_checked_again(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removing the first site file moves every other site one place up: their kept
    results are used at their new places (a kept warning now names its new index)."""
    shutil.copytree(template, tmp_path / "fleet")
    fleet = Fleet(tmp_path / "fleet")
    state = tmp_path / "state"
    fleet.edit_site(5, lambda s: s.update(sdn={"mechanism": "ovn", "tunnelling": True}))
    first = Workspace(fleet.top, state).validation
    assert [f.location.field for f in first.warnings if f.rule == "DCN401"] == ["sites[6].sdn"]
    fleet.sites()[0].unlink()
    read: list[str] = []
    real_read = loader.read_text
    monkeypatch.setattr(loader, "read_text", lambda p, *a: read.append(str(p)) or real_read(p, *a))
    helped = Workspace(fleet.top, state).validation
    assert [Path(p).name for p in read] == ["dcn.yaml"]
    assert [f.location.field for f in helped.warnings if f.rule == "DCN401"] == ["sites[5].sdn"]
    again = Workspace(fleet.top, state).validation  # from the lines written with new places
    assert [Path(p).name for p in read] == ["dcn.yaml", "dcn.yaml"]
    monkeypatch.undo()
    assert _view(helped) == _view(again) == _view(validate(load_yaml(fleet.top)))


def test_editing_workload_networks_checks_every_site_again(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """workload_networks is deployment-wide (the top file): the memo keeps site results by
    a digest of those settings, so an edit of it checks every site again (here: a
    segment moved onto a site's leaf is found at that leaf, in the site's own file),
    and the next validation, with nothing changed, checks none from a site file."""
    shutil.copytree(template, tmp_path / "fleet")
    fleet = Fleet(tmp_path / "fleet")
    state = tmp_path / "state"
    sites = fleet.sites()
    names = [fleet.read(p)["sites"][0]["name"] for p in sites]
    doc = fleet.read(fleet.top)
    segments = [
        {"site": name, "network_type": "vlan", "vlan": 100, "subnet": f"100.64.{k}.0/24"}
        for k, name in enumerate(names)
    ]
    doc["workload_networks"] = [{"name": "edge", "kind": "provider", "segments": segments}]
    fleet.write(fleet.top, doc)
    assert Workspace(fleet.top, state).validation.ok

    checked: list[int] = []
    real_check = validation.check_site
    monkeypatch.setattr(
        validation,
        "check_site",
        lambda lo, fr, i, *a: checked.append(i) or real_check(lo, fr, i, *a),
    )
    leaf = fleet.read(sites[3])["sites"][0]["networks"]["internal_api"]["cidr"]
    segments[3]["subnet"] = leaf
    fleet.write(fleet.top, doc)
    result = Workspace(fleet.top, state).validation
    assert checked == list(range(EDGES + 1))
    (found,) = result.errors
    assert (found.rule, Path(found.location.file).name) == ("DCN706", sites[3].name)
    lines = sites[3].read_text().splitlines()
    assert f"internal_api: {{cidr: {leaf}" in lines[found.location.line - 1]
    assert _view(result) == _view(validate(load_yaml(fleet.top)))

    checked.clear()
    again = Workspace(fleet.top, state).validation
    assert checked == [0]  # the control plane, in the top file; every site file's result kept
    assert _view(again) == _view(result)

    segments[3]["subnet"] = "100.64.3.0/24"
    fleet.write(fleet.top, doc)
    checked.clear()
    assert Workspace(fleet.top, state).validation.ok
    assert checked == list(range(EDGES + 1))


def test_a_site_file_edit_meets_the_kept_workload_networks(template: Path, tmp_path: Path) -> None:
    """With workload_networks unchanged, a one-site edit is checked against them: a site
    renamed away from its segment (DCN702 in the top file, DCN710 at the site), then
    listed by a tenant network it does not tunnel for (DCN709)."""
    shutil.copytree(template, tmp_path / "fleet")
    fleet = Fleet(tmp_path / "fleet")
    state = tmp_path / "state"
    doc = fleet.read(fleet.top)
    doc["workload_networks"] = _workload_networks(fleet, 1, 1)
    doc["workload_networks"][0]["segments"][0]["subnet"] = "100.64.1.0/24"
    fleet.write(fleet.top, doc)
    fleet.edit_site(1, lambda s: s.update(sdn={"tunnelling": True}))
    first = Workspace(fleet.top, state).validation
    assert first.ok and {f.rule for f in first.findings} == {"DCN401", "DCN710"}
    fleet.edit_site(1, lambda s: s.update(name="renamed", sdn={"tunnelling": False}))
    helped = Workspace(fleet.top, state).validation
    rules = sorted(f.rule for f in helped.errors)
    assert rules == ["DCN702", "DCN702"]  # the segment and the tenant network name dcn1
    assert _view(helped) == _view(validate(load_yaml(fleet.top)))
    fleet.edit_site(1, lambda s: s.update(name="dcn1"))
    helped = Workspace(fleet.top, state).validation
    assert [f.rule for f in helped.errors] == ["DCN709"]
    assert Path(helped.errors[0].location.file).name == fleet.sites()[1].name
    assert _view(helped) == _view(validate(load_yaml(fleet.top)))
