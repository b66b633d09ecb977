"""Event log and exports, and that a failure half-way records nothing at all."""

from __future__ import annotations

import pytest

from dcn.errors import StateError
from dcn.state import GenerationStatus, NewGeneration, Store
from tests.state.helpers import record


def test_events_in_order_limited_and_per_stack(store: Store) -> None:
    record(store, "central", outputs="sha256:A")
    record(store, "dcn0")
    for step in ("copy files", "start nova_compute", "check placement"):
        store.add_event("lab", "dcn0", "task", step, generation=1, host="dcn0-compute-0")
    store.add_event("lab", "central", "task", "restart rabbitmq")
    everything = store.events("lab")
    assert [e.kind for e in everything] == ["planned", "planned", "task", "task", "task", "task"]
    assert [e.message for e in store.events("lab", limit=2)] == [
        "check placement",
        "restart rabbitmq",
    ]
    dcn0 = store.events("lab", "dcn0", limit=3)
    assert [e.message for e in dcn0] == ["copy files", "start nova_compute", "check placement"]
    assert all(e.stack == "dcn0" and e.host == "dcn0-compute-0" for e in dcn0)
    assert [e.at for e in everything] == sorted(e.at for e in everything)
    assert store.events("other") == []


def test_event_for_an_unknown_stack_says_plan_first(store: Store) -> None:
    with pytest.raises(StateError, match="no stack dcn9") as exc:
        store.add_event("lab", "dcn9", "task", "x")
    assert exc.value.hint == "plan it first: dcn plan dcn9"


def test_exports_are_recorded_and_logged(store: Store) -> None:
    assert store.latest_export("lab", "central") is None
    record(store, "central", outputs="sha256:A")
    store.record_export("lab", "central", 1, "sha256:A", "/tmp/a.yaml", "least-privilege")
    store.record_export("lab", "central", 2, "sha256:B", "/tmp/b.yaml", "full")
    latest = store.latest_export("lab", "central")
    assert latest is not None
    assert (latest.generation, latest.digest, latest.path, latest.scope) == (
        2,
        "sha256:B",
        "/tmp/b.yaml",
        "full",
    )
    assert store.events("lab", "central")[-1].kind == "exported"
    store.record_export("lab", "unrecorded", 1, "sha256:C", "/tmp/c.yaml", "full")
    assert store.latest_export("lab", "unrecorded").digest == "sha256:C"


def test_a_failing_batch_records_nothing(store: Store) -> None:
    record(store, "central", outputs="sha256:A")
    before = (store.status_rows("lab"), store.events("lab"))
    good = NewGeneration("dcn0", "edge", "az0", "i", "sha256:p", "{}", 2)
    bad = NewGeneration("dcn1", "edge", "az1", "i", "sha256:p", "{}", 2, status="exploded")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exploded"):
        store.record_generations("lab", [good, bad])
    assert (store.status_rows("lab"), store.events("lab")) == before
    assert store.latest_generation("lab", "dcn0") is None
    assert store.record_generations("lab", [good]) == {"dcn0": 1}


def test_status_survives_a_failed_deploy_with_what_happened(store: Store) -> None:
    record(store, "dcn0")
    store.set_status("lab", "dcn0", 1, GenerationStatus.DEPLOYING)
    store.set_status("lab", "dcn0", 1, GenerationStatus.FAILED, "run 'dcn deploy dcn0' again")
    [row] = store.status_rows("lab")
    assert row.status is GenerationStatus.FAILED
    assert store.events("lab", "dcn0")[-1].message.endswith("run 'dcn deploy dcn0' again")
    assert record(store, "dcn0", plan='{"v":2}') == 2
    assert store.generation("lab", "dcn0", 1).status is GenerationStatus.FAILED
