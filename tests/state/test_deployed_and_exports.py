"""What runs on the nodes (newest deployed generation) and the last export per file."""

from __future__ import annotations

from dcn.state import GenerationStatus, Store
from tests.state.helpers import record


def test_newest_deployed_generation_per_stack(store: Store) -> None:
    record(store, "central", outputs="sha256:A", status=GenerationStatus.DEPLOYED)
    record(store, "central", outputs="sha256:B", plan="b", status=GenerationStatus.DEPLOYED)
    record(store, "central", outputs="sha256:C", plan="c")  # planned, not deployed
    record(store, "dcn0", consumed=("central", 1, "sha256:A"), status=GenerationStatus.DEPLOYED)
    record(store, "dcn0", consumed=("central", 2, "sha256:B"), plan="b")
    record(store, "dcn1", consumed=("central", 2, "sha256:B"), status=GenerationStatus.FAILED)
    deployed = store.deployed_generations("lab")
    assert sorted(deployed) == ["central", "dcn0"]
    assert (deployed["central"].number, deployed["central"].outputs_digest) == (2, "sha256:B")
    assert deployed["dcn0"].number == 1
    assert deployed["dcn0"].consumed_export.digest == "sha256:A"
    assert store.deployed_generations("other") == {}


def test_last_export_per_path(store: Store) -> None:
    store.record_export("lab", "central", 1, "sha256:A", "/tmp/a.yaml", "least-privilege")
    store.record_export("lab", "central", 1, "sha256:A", "/tmp/b.yaml", "full")
    store.record_export("lab", "central", 2, "sha256:B", "/tmp/a.yaml", "least-privilege")
    store.record_export("lab", "other", 5, "sha256:X", "/tmp/c.yaml", "full")
    found = store.exports("lab", "central")
    assert [(e.path, e.generation, e.scope) for e in found] == [
        ("/tmp/a.yaml", 2, "least-privilege"),
        ("/tmp/b.yaml", 1, "full"),
    ]
    assert store.exports("elsewhere", "central") == []
