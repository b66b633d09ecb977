"""After a control-plane change: which edges are stale, the exact command, stale exports.

No hosts: generations are planned for real and marked deployed through the store, the
way a deploy leaves them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from dcn.cli import render
from dcn.cli.operate import _summary
from dcn.cli.status import show_status
from dcn.deploy import Deployer, SiteOutcome
from dcn.fleetstatus import status_data
from dcn.nextsteps import StaleEdges, deploy_command, name_list
from dcn.state.records import GenerationStatus
from dcn.workspace import Workspace

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dcn-basic.yaml"


def workspace(folder: Path, name: str = "dcn.yaml") -> Workspace:
    return Workspace(folder / name, state_dir=folder / ".dcn")


def mark_deployed(ws: Workspace, *sites: str) -> None:
    """What a successful deploy records: the newest generation of each site deployed."""
    for site in sites:
        record = ws.store.latest_generation("lab", site)
        assert record is not None
        ws.store.set_status("lab", site, record.number, GenerationStatus.DEPLOYED, "deployed")


def grow_central(folder: Path) -> None:
    """Two controllers: other node lists and addresses, so other outputs."""
    desc = folder / "dcn.yaml"
    text = desc.read_text().replace("Controller: {count: 1}", "Controller: {count: 2}")
    desc.write_text(text.replace("ha_size: 1 ", "ha_size: 2 "))


@pytest.fixture
def deployed(tmp_path: Path) -> Path:
    """The example planned and deployed (gen 1 everywhere), an export written at gen 1."""
    shutil.copy(EXAMPLE, tmp_path / "dcn.yaml")
    ws = workspace(tmp_path)
    ws.plan()
    mark_deployed(ws, "central", "dcn0", "dcn1")
    ws.export("central", tmp_path / "export.yaml")
    return tmp_path


@pytest.fixture
def central_changed(deployed: Path) -> Path:
    """Then central's outputs change and its generation 2 is deployed (edges are not)."""
    grow_central(deployed)
    ws = workspace(deployed)
    ws.plan(["central"])
    mark_deployed(ws, "central")
    return deployed


def captured(fn, *args, **kwargs) -> str:
    with render.out.capture() as cap:
        fn(*args, **kwargs)
    return cap.get()


def test_nothing_stale_when_everything_is_deployed(deployed: Path) -> None:
    ws = workspace(deployed)
    assert ws.stale_edges() is None
    assert ws.stale_exports() == []
    assert all(not step.command for step in ws.next_steps().values())
    rows = status_data(ws)
    assert [r["next"] for r in rows] == [None, None, None]
    assert [r["deployed_generation"] for r in rows] == [1, 1, 1]


def test_control_plane_change_makes_edges_stale(central_changed: Path) -> None:
    ws = workspace(central_changed)
    stale = ws.stale_edges()
    assert stale is not None
    assert stale.generation == 2 and stale.consumed == {"dcn0": 1, "dcn1": 1}
    assert stale.command == "dcn deploy dcn0 dcn1"
    line = stale.line()
    assert line.startswith("edges now stale (they consumed central generation 1's outputs")
    assert line.endswith(": dcn0, dcn1; run: dcn deploy dcn0 dcn1")


def test_status_says_deploy_not_replan(central_changed: Path) -> None:
    ws = workspace(central_changed)
    rows = {r["site"]: r for r in status_data(ws)}
    assert rows["central"]["next"] is None
    for edge in ("dcn0", "dcn1"):
        assert rows[edge]["stale"] is True  # the field keeps its meaning
        assert rows[edge]["next"] == f"dcn deploy {edge}"
        assert "generation 1's outputs" in rows[edge]["reason"]
    text = captured(show_status, ws, False)
    assert "re-plan" not in text and "dcn plan" not in text
    assert "edges still stale" in text and "run: dcn deploy dcn0 dcn1" in text


def test_replanned_edge_still_needs_a_deploy(central_changed: Path) -> None:
    """`dcn plan` moves the edge's newest generation on (no longer stale), but its nodes
    still run the old outputs: the next step is a deploy, and says why."""
    ws = workspace(central_changed)
    ws.plan(["dcn0"])
    rows = {r["site"]: r for r in status_data(ws)}
    assert rows["dcn0"]["stale"] is False and rows["dcn0"]["generation"] == 2
    assert rows["dcn0"]["deployed_generation"] == 1
    assert rows["dcn0"]["next"] == "dcn deploy dcn0"
    mark_deployed(ws, "dcn0")
    rows = {r["site"]: r for r in status_data(ws)}
    assert rows["dcn0"]["next"] is None and rows["dcn1"]["next"] == "dcn deploy dcn1"
    assert workspace(central_changed).stale_edges().sites == ["dcn1"]


def test_planned_control_plane_goes_first(deployed: Path) -> None:
    """Central planned but not deployed: an edge deploy would be refused, so the command
    deploys central first (the deployer orders it) and then the edge."""
    grow_central(deployed)
    ws = workspace(deployed)
    ws.plan(["central"])
    steps = ws.next_steps()
    assert steps["central"].command == "dcn deploy central"
    assert "planned" in steps["central"].reason
    assert steps["dcn0"].command == "dcn deploy central dcn0"
    assert ws.stale_edges() is None  # nothing deployed has changed yet
    assert ws.stale_exports() == []


def test_description_change_of_one_edge_says_what_is_true(deployed: Path) -> None:
    desc = deployed / "dcn.yaml"
    doc = yaml.safe_load(desc.read_text())
    doc["sites"][1]["roles"]["DistributedCompute"]["count"] += 1
    desc.write_text(yaml.safe_dump(doc, sort_keys=False))
    ws = workspace(deployed)
    ws.plan(["dcn0"])
    step = ws.next_steps()["dcn0"]
    assert step.command == "dcn deploy dcn0"
    assert step.reason == "generation 2 planned (the description changed); generation 1 is deployed"
    assert ws.next_steps()["dcn1"].command == ""


def test_stale_export_in_status(central_changed: Path) -> None:
    ws = workspace(central_changed)
    [stale] = ws.stale_exports()
    path = str(central_changed / "export.yaml")
    assert (stale.path, stale.generation, stale.current) == (path, 1, 2)
    assert stale.command == f"dcn export central -o {path} --force"
    assert stale.line() == (
        f"export {path} (central gen 1) is stale: central is at gen 2; "
        f"re-run: dcn export central -o {path} --force"
    )
    assert "is stale: central is at gen 2" in captured(show_status, ws, False)
    ws.export("central", central_changed / "export.yaml", force=True)
    assert workspace(central_changed).stale_exports() == []


def test_removed_export_file_is_not_reported(central_changed: Path) -> None:
    (central_changed / "export.yaml").unlink()
    assert workspace(central_changed).stale_exports() == []


def test_importing_an_older_export_warns(central_changed: Path) -> None:
    """Edges of the same store switched to an export file written at central gen 1."""
    doc = yaml.safe_load((central_changed / "dcn.yaml").read_text())
    doc["sites"] = [s for s in doc["sites"] if s["kind"] == "edge"]
    doc["control_plane_export"] = "export.yaml"
    (central_changed / "edges.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    ws = workspace(central_changed, "edges.yaml")
    assert ws.control_plane_source() is not None
    [notice] = [n for n in ws.notices if "generation" in n]
    assert "export.yaml holds central generation 1" in notice
    assert "central generation 2 (other outputs) is deployed" in notice
    assert "dcn export central -o" in notice and "--force" in notice


def test_importing_a_current_export_is_quiet(deployed: Path) -> None:
    doc = yaml.safe_load((deployed / "dcn.yaml").read_text())
    doc["sites"] = [s for s in doc["sites"] if s["kind"] == "edge"]
    doc["control_plane_export"] = "export.yaml"
    (deployed / "edges.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    ws = workspace(deployed, "edges.yaml")
    ws.control_plane_source()
    assert not [n for n in ws.notices if "generation" in n]


def test_deploy_summary_names_stale_edges(central_changed: Path) -> None:
    """The deployer's summary data after central's deploy: the edges and the command."""
    ws = workspace(central_changed)
    deployer = Deployer(ws, lambda site, event: None, connection=object())  # type: ignore[arg-type]
    outcomes = [SiteOutcome("central", True, 2, message="3 changes")]
    deployer._note_stale_edges(outcomes, deploying_cp=True)
    assert outcomes[0].next_command == "dcn deploy dcn0 dcn1"
    text = captured(_summary, outcomes, deployer.stale_edges)
    assert "dcn deploy dcn0 dcn1" in text
    assert "edges now stale (they consumed central generation 1's outputs" in text


def test_failed_control_plane_gets_no_stale_hint(central_changed: Path) -> None:
    ws = workspace(central_changed)
    deployer = Deployer(ws, lambda site, event: None, connection=object())  # type: ignore[arg-type]
    outcomes = [SiteOutcome("central", False, 2, next_command="dcn deploy central")]
    deployer._note_stale_edges(outcomes, deploying_cp=True)
    assert outcomes[0].next_command == "dcn deploy central"


def test_many_edges_shorten_the_list_not_the_command() -> None:
    sites = [f"edge{i:03d}" for i in range(40)]
    stale = StaleEdges("central", 7, {s: 6 for s in sites})
    assert stale.command == deploy_command(sites)
    assert stale.command.endswith("edge038 edge039")
    assert "and 32 more; run: dcn deploy edge000" in stale.line()
    assert stale.short_command() == "dcn deploy edge000 edge001 ... (40 edges, below)"
    assert name_list(["a", "b"]) == "a, b"
    mixed = StaleEdges("central", 7, {"a": 5, "b": 6})
    assert "(they consumed outputs of central generations 5, 6; central is" in mixed.line()
