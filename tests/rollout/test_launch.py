"""Which edges a rollout takes and what it refuses, from the state a deploy leaves
(generations planned for real and marked deployed: no hosts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcn.errors import DcnError
from dcn.hosts import REAL_HOST_SETTINGS
from dcn.rollout.launch import prepare, prepare_resume, run
from dcn.rollout.run import Wave
from dcn.rollout.waves import Options
from dcn.state.records import GenerationStatus
from dcn.workspace import Workspace
from tests.cli.test_next_steps import grow_central, workspace


def test_nothing_to_roll_out_when_every_edge_is_deployed(deployed: Path) -> None:
    assert prepare(workspace(deployed), None, Options()).waves == []


def test_stale_edges_are_rolled_out_with_why(stale: Path) -> None:
    prepared = prepare(workspace(stale), None, Options())
    assert prepared.waves == [Wave(1, ("dcn0", "dcn1"))]
    assert "central generation 1's outputs" in prepared.reasons["dcn0"]
    canary = prepare(workspace(stale), None, Options(canary=1))
    assert canary.waves == [Wave(1, ("dcn0",)), Wave(2, ("dcn1",))]


def test_a_failed_edge_is_rolled_out(deployed: Path) -> None:
    ws = workspace(deployed)
    ws.store.set_status("lab", "dcn1", 1, GenerationStatus.FAILED, "boom")
    prepared = prepare(workspace(deployed), None, Options())
    assert prepared.sites == ["dcn1"] and prepared.reasons == {"dcn1": "generation 1 failed"}


def test_named_edges_go_even_when_deployed(deployed: Path) -> None:
    prepared = prepare(workspace(deployed), ["dcn1", "dcn0", "dcn1"], Options(max_parallel=1))
    assert prepared.waves == [Wave(1, ("dcn0",)), Wave(2, ("dcn1",))]
    assert prepared.reasons == {"dcn0": "named", "dcn1": "named"}


def test_the_control_plane_is_never_part_of_a_rollout(stale: Path) -> None:
    with pytest.raises(DcnError, match="central is the control plane") as exc:
        prepare(workspace(stale), ["dcn0", "central"], Options())
    assert "dcn deploy central" in exc.value.hint


def test_an_unknown_site_is_named(deployed: Path) -> None:
    with pytest.raises(DcnError, match="no edge site named nope") as exc:
        prepare(workspace(deployed), ["nope", "dcn0"], Options())
    assert exc.value.hint == "edge sites: dcn0, dcn1"


def test_a_planned_control_plane_goes_first(deployed: Path) -> None:
    grow_central(deployed)
    workspace(deployed).plan(["central"])
    with pytest.raises(DcnError, match="control plane central goes first") as exc:
        prepare(workspace(deployed), None, Options())
    assert "planned" in exc.value.message
    assert exc.value.hint.startswith("run 'dcn deploy central'")


def test_an_unplanned_control_plane_change_goes_first(deployed: Path) -> None:
    grow_central(deployed)
    with pytest.raises(DcnError, match="the description changes it") as exc:
        prepare(workspace(deployed), ["dcn0"], Options())
    assert "dcn deploy central" in exc.value.hint


def test_resume_with_nothing_to_resume(deployed: Path) -> None:
    with pytest.raises(DcnError, match="no rollout of lab to resume"):
        prepare_resume(workspace(deployed))


def test_no_hosts_refused_before_anything_is_recorded(
    stale: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in REAL_HOST_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    ws: Workspace = workspace(stale)
    prepared = prepare(ws, None, Options())
    with pytest.raises(DcnError, match="no lab is up"):
        run(ws, prepared, lambda site, event: None, lambda event: None)
    assert ws.store.rollout("lab") is None
