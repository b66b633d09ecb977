"""Generations: numbered per stack, latest lookups, batches, status rows and staleness."""

from __future__ import annotations

import json

import pytest

from dcn.errors import StateError
from dcn.plan.types import ExportVersion
from dcn.state import GenerationStatus, NewGeneration, Store
from tests.state.helpers import record


def test_numbers_count_per_stack_and_per_deployment(store: Store) -> None:
    assert record(store, "central", outputs="sha256:A") == 1
    assert record(store, "central", outputs="sha256:B", plan='{"v":2}') == 2
    assert record(store, "dcn0") == 1
    assert record(store, "central", deployment="other", outputs="sha256:A") == 1
    assert record(store, "central", outputs="sha256:C", plan='{"v":3}') == 3


def test_latest_generation_and_a_given_one(store: Store) -> None:
    assert store.latest_generation("lab", "central") is None
    record(store, "central", outputs="sha256:A", plan='{"v":1,"motd":"h\u00e9llo"}', nodes=3)
    record(store, "central", outputs="sha256:B", plan='{"v":2}', nodes=5)
    latest = store.latest_generation("lab", "central")
    assert latest is not None
    assert (latest.number, latest.node_count, latest.outputs_digest) == (2, 5, "sha256:B")
    assert latest.kind == "control-plane" and latest.az == "az-central"
    assert latest.status is GenerationStatus.PLANNED
    assert latest.plan_json() == '{"v":2}'
    first = store.generation("lab", "central", 1)
    assert first is not None and json.loads(first.plan_json()) == {"v": 1, "motd": "h\u00e9llo"}
    assert store.generation("lab", "central", 9) is None
    assert store.latest_generation("nowhere", "central") is None


def test_latest_generations_are_the_newest_of_each_stack(store: Store) -> None:
    record(store, "central", outputs="sha256:A")
    record(store, "central", outputs="sha256:B", plan='{"v":2}')
    record(store, "dcn0", consumed=("central", 1, "sha256:A"))
    record(store, "dcn0", deployment="other")
    latest = store.latest_generations("lab")
    assert {s: r.number for s, r in latest.items()} == {"central": 2, "dcn0": 1}
    assert latest["dcn0"].consumed_export == ExportVersion("central", 1, "sha256:A")
    assert latest["central"].plan_json() == '{"v":2}'
    assert "loader" not in repr(latest["central"])


def test_batch_of_a_thousand_and_one_in_one_call(store: Store) -> None:
    def batch(version: int) -> list[NewGeneration]:
        return [
            NewGeneration(
                stack=f"dcn{i}",
                kind="edge",
                az=f"az{i}",
                input_digest=f"in{version}",
                plan_digest=f"sha256:{i}-{version}",
                plan_json=json.dumps({"site": i, "v": version}),
                node_count=10,
                consumed_export=ExportVersion("central", version, f"sha256:{version}"),
            )
            for i in range(1001)
        ]

    assert set(store.record_generations("lab", batch(1)).values()) == {1}
    numbers = store.record_generations("lab", batch(2))
    assert len(numbers) == 1001 and set(numbers.values()) == {2}
    latest = store.latest_generations("lab")
    assert len(latest) == 1001
    assert json.loads(latest["dcn500"].plan_json()) == {"site": 500, "v": 2}
    assert latest["dcn7"].consumed_export == ExportVersion("central", 2, "sha256:2")


def test_batch_accepts_mappings_and_refuses_a_stack_twice(store: Store) -> None:
    item = {
        "stack": "dcn0",
        "kind": "edge",
        "az": "az0",
        "input_digest": "i",
        "plan_digest": "sha256:p",
        "plan_json": "{}",
        "node_count": 2,
        "consumed_export": ("central", 1, "sha256:A"),
    }
    assert store.record_generations("lab", [item]) == {"dcn0": 1}
    with pytest.raises(StateError, match="more than once: dcn0"):
        store.record_generations("lab", [item, item])
    assert store.latest_generation("lab", "dcn0").number == 1


def test_stack_follows_a_changed_az(store: Store) -> None:
    record(store, "dcn0")
    store.record_generation(
        "lab",
        "dcn0",
        "edge",
        "renamed-az",
        input_digest="i",
        plan_digest="sha256:x",
        plan_json="{}",
        node_count=1,
    )
    assert store.latest_generation("lab", "dcn0").az == "renamed-az"
    assert store.generation("lab", "dcn0", 1).az == "renamed-az"


def test_status_rows_mark_edges_that_consumed_older_outputs(store: Store) -> None:
    record(store, "central", outputs="sha256:A", nodes=3)
    record(store, "dcn0", consumed=("central", 1, "sha256:A"), nodes=2)
    record(store, "dcn1", consumed=("central", 1, "sha256:A"), nodes=4)
    record(store, "dcn2", consumed=("external", 0, "sha256:Z"))
    assert not any(r.stale for r in store.status_rows("lab"))

    record(store, "central", outputs="sha256:B", plan='{"v":2}', nodes=3)
    record(store, "dcn1", consumed=("central", 2, "sha256:B"), plan='{"v":2}', nodes=4)
    rows = {r.site: r for r in store.status_rows("lab")}
    assert [r for r in rows] == ["central", "dcn0", "dcn1", "dcn2"]
    assert rows["dcn0"].stale and not rows["dcn1"].stale
    assert not rows["central"].stale and not rows["dcn2"].stale  # unknown source: not judged
    assert (rows["dcn0"].kind, rows["dcn0"].az, rows["dcn0"].nodes) == ("edge", "az-dcn0", 2)
    assert (rows["dcn1"].generation, rows["central"].generation) == (2, 2)
    assert rows["dcn0"].consumed_export == "central@1 sha256:A"
    assert rows["central"].consumed_export is None
    assert rows["dcn0"].last_event_at is not None


def test_same_outputs_in_a_new_control_plane_generation_are_not_stale(store: Store) -> None:
    record(store, "central", outputs="sha256:A")
    record(store, "dcn0", consumed=("central", 1, "sha256:A"))
    record(store, "central", outputs="sha256:A", plan='{"internal-only":1}')
    assert [r.stale for r in store.status_rows("lab")] == [False, False]


def test_set_status_updates_the_row_and_logs_it(store: Store) -> None:
    record(store, "dcn0")
    store.set_status("lab", "dcn0", 1, GenerationStatus.DEPLOYING, run_id="run-1")
    store.set_status(
        "lab",
        "dcn0",
        1,
        GenerationStatus.FAILED,
        "nova_compute did not start",
        host="dcn0-compute-0",
    )
    latest = store.latest_generation("lab", "dcn0")
    assert latest.status is GenerationStatus.FAILED and latest.run_id == "run-1"
    assert latest.updated_at >= latest.created_at
    [row] = store.status_rows("lab")
    assert row.status is GenerationStatus.FAILED
    last = store.events("lab", "dcn0")[-1]
    assert (last.kind, last.host, last.generation) == ("failed", "dcn0-compute-0", 1)
    assert last.message == "generation 1 failed: nova_compute did not start"


def test_set_status_of_a_missing_generation_changes_nothing(store: Store) -> None:
    record(store, "dcn0")
    before = store.events("lab")
    with pytest.raises(StateError, match="no generation 2") as exc:
        store.set_status("lab", "dcn0", 2, GenerationStatus.DEPLOYED)
    assert "dcn status" in exc.value.hint
    with pytest.raises(StateError, match="no stack dcn9") as exc:
        store.set_status("lab", "dcn9", 1, GenerationStatus.DEPLOYED)
    assert "dcn plan dcn9" in exc.value.hint
    assert store.events("lab") == before
    assert store.latest_generation("lab", "dcn0").status is GenerationStatus.PLANNED
