"""Rollouts in the state store (SQLite and PostgreSQL): recorded site by site, one
running at a time, a dead one read as interrupted, resumed; a schema-3 store gains
the tables."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from dcn.errors import DcnError, StateError
from dcn.state import Store
from dcn.state.rollouts import RolloutStatus, SiteResult
from dcn.state.schema import SCHEMA_VERSION
from tests.state.helpers import record

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def as_if_killed(store: Store) -> None:
    """Every rollout's process is gone: a pid that has exited (and was reaped)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    with store._write() as s:
        s.execute(text("update rollout set pid = :pid"), {"pid": int(proc.stdout)})


def test_sites_are_recorded_in_their_waves_as_they_finish(store: Store) -> None:
    rid = store.start_rollout("lab", {"max_parallel": 2}, [["dcn0"], ["dcn1", "dcn2"]])
    found = store.rollout("lab")
    assert found is not None and found.id == rid
    assert found.status is RolloutStatus.RUNNING and found.options == {"max_parallel": 2}
    assert [(s.site, s.wave, s.result) for s in found.sites] == [
        ("dcn0", 1, None),
        ("dcn1", 2, None),
        ("dcn2", 2, None),
    ]
    store.rollout_wave_started(rid, 1, ["dcn0"], {"dcn0": 3}, AT)
    store.rollout_site(rid, "dcn0", None, "2 changes", generation_after=4, seconds=12.5)
    site = store.rollout("lab").sites[0]
    assert (site.generation_before, site.generation_after, site.seconds) == (3, 4, 12.5)
    assert site.result is None and site.started_at == AT and site.remaining
    store.rollout_site(rid, "dcn0", SiteResult.OK, "2 changes")
    site = store.rollout("lab").sites[0]
    assert site.result is SiteResult.OK and site.finished_at is not None
    assert (site.generation_after, site.seconds) == (4, 12.5)  # kept from the deploy
    store.finish_rollout(rid, RolloutStatus.STOPPED, "not started: 1 sites failed")
    done = store.rollout("lab", rid)
    assert done.status is RolloutStatus.STOPPED and done.finished_at is not None
    assert [(s.site, s.result, s.message) for s in done.remaining()] == [
        ("dcn1", SiteResult.NOT_STARTED, "not started: 1 sites failed"),
        ("dcn2", SiteResult.NOT_STARTED, "not started: 1 sites failed"),
    ]


def test_one_running_rollout_at_a_time(store: Store) -> None:
    rid = store.start_rollout("lab", {}, [["dcn0"]])
    with pytest.raises(StateError, match=f"rollout {rid} is running") as exc:
        store.start_rollout("lab", {}, [["dcn1"]])
    assert "one rollout" in exc.value.hint
    assert store.start_rollout("other", {}, [["x"]])  # another deployment is free
    store.finish_rollout(rid, RolloutStatus.DONE)
    assert store.start_rollout("lab", {}, [["dcn1"]]) > rid


def test_a_killed_rollout_reads_interrupted_and_is_resumed(store: Store, state_dir: Path) -> None:
    rid = store.start_rollout("lab", {"canary": 1}, [["dcn0"], ["dcn1"]])
    store.rollout_wave_started(rid, 1, ["dcn0"], {}, AT)
    store.rollout_site(rid, "dcn0", SiteResult.FAILED, "boom", generation_after=2)
    as_if_killed(store)
    assert store.rollout("lab").status is RolloutStatus.INTERRUPTED
    resumed = store.resume_rollout("lab")
    assert resumed.id == rid and resumed.status is RolloutStatus.RUNNING
    assert [s.site for s in resumed.remaining()] == ["dcn1"]
    assert resumed.options == {"canary": 1}
    with pytest.raises(StateError, match="is running"):
        store.resume_rollout("lab")


def test_a_new_rollout_marks_a_dead_one_interrupted(store: Store) -> None:
    rid = store.start_rollout("lab", {}, [["dcn0"]])
    as_if_killed(store)
    store.start_rollout("lab", {}, [["dcn1"]])
    assert store.rollout("lab", rid).status is RolloutStatus.INTERRUPTED


def test_resume_refuses_when_nothing_is_left(store: Store) -> None:
    with pytest.raises(DcnError, match="no rollout of lab to resume") as exc:
        store.resume_rollout("lab")
    assert "dcn rollout" in exc.value.hint
    rid = store.start_rollout("lab", {}, [["dcn0"]])
    store.rollout_wave_started(rid, 1, ["dcn0"], {}, AT)
    store.rollout_site(rid, "dcn0", SiteResult.OK, "no changes")
    store.finish_rollout(rid, RolloutStatus.DONE)
    with pytest.raises(DcnError, match=f"the latest, rollout {rid}, is done"):
        store.resume_rollout("lab")


def test_failed_sites_are_not_left_to_resume(store: Store) -> None:
    """Resuming continues what was not reached; a failed site had its turn."""
    rid = store.start_rollout("lab", {}, [["dcn0"]])
    store.rollout_wave_started(rid, 1, ["dcn0"], {}, AT)
    store.rollout_site(rid, "dcn0", SiteResult.GATE_FAILED, "gate: computes down")
    store.finish_rollout(rid, RolloutStatus.STOPPED, "not started")
    with pytest.raises(DcnError, match="no site left"):
        store.resume_rollout("lab")


def test_rollouts_of_another_deployment_are_not_seen(store: Store) -> None:
    record(store, "dcn0")
    store.start_rollout("lab", {}, [["dcn0"]])
    assert store.rollout("other") is None
    assert store.rollout("lab", 999) is None


def test_a_schema_3_store_gains_the_rollout_tables(state_dir: Path) -> None:
    with Store.open(state_dir) as store:
        record(store, "dcn0")
    with sqlite3.connect(state_dir / "state.db") as db:  # back to what schema 3 had
        db.execute("drop table rollout_site")
        db.execute("drop table rollout")
        db.execute("update meta set value='3' where key='schema_version'")
    with Store.open(state_dir) as store:
        assert store.latest_generation("lab", "dcn0").number == 1
        rid = store.start_rollout("lab", {}, [["dcn0"]])
        assert store.rollout("lab").id == rid
    with sqlite3.connect(state_dir / "state.db") as db:
        version = db.execute("select value from meta where key='schema_version'").fetchone()
    assert version == (str(SCHEMA_VERSION),) == ("4",)
