"""Rotating stored secrets with redeploy marks, and backups that hold only ciphertext."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from dcn.errors import StateError
from dcn.state import GenerationStatus, Store
from tests.state.helpers import record


def fresh(name: str) -> str:
    return f"rotated-{name}-0123456789"


def test_rotate_replaces_values_and_marks_stacks_until_deployed(store: Store) -> None:
    store.ensure_secrets("lab", ["NovaPassword", "AdminPassword"], lambda n: f"old-{n}-value")
    for stack in ("central", "dcn0", "dcn1"):
        record(store, stack)
    done = store.rotate_secrets("lab", ["NovaPassword"], fresh, ["central", "dcn0"])
    assert done == ["NovaPassword"]
    assert store.get_secrets("lab") == {
        "AdminPassword": "old-AdminPassword-value",
        "NovaPassword": fresh("NovaPassword"),
    }
    marks = store.redeploy_marks("lab")
    assert marks == {"central": "secrets rotated: NovaPassword", "dcn0": marks["central"]}
    store.rotate_secrets("lab", ["AdminPassword"], fresh, ["central"])
    assert store.redeploy_marks("lab")["central"] == "secrets rotated: AdminPassword, NovaPassword"
    store.set_status("lab", "dcn0", 1, GenerationStatus.DEPLOYING)
    assert "dcn0" in store.redeploy_marks("lab")  # not until the deploy succeeded
    store.set_status("lab", "dcn0", 1, GenerationStatus.DEPLOYED)
    assert list(store.redeploy_marks("lab")) == ["central"]


def test_imported_or_unknown_secrets_are_not_rotated(store: Store) -> None:
    store.ensure_secrets("lab", ["NovaPassword"], lambda n: "old-nova-value")
    store.import_secrets("lab", {"RabbitPassword": "theirs-value"})
    record(store, "dcn0")
    with pytest.raises(StateError, match="imported from the control plane's export") as exc:
        store.rotate_secrets("lab", ["NovaPassword", "RabbitPassword"], fresh, ["dcn0"])
    assert "RabbitPassword" in str(exc.value) and "NovaPassword" not in str(exc.value)
    with pytest.raises(StateError, match="not stored yet, so nothing to rotate: GlancePassword"):
        store.rotate_secrets("lab", ["GlancePassword"], fresh, ["dcn0"])
    # nothing changed: one transaction
    assert store.get_secrets("lab") == {
        "NovaPassword": "old-nova-value",
        "RabbitPassword": "theirs-value",
    }
    assert store.redeploy_marks("lab") == {}


def test_backup_is_a_private_consistent_copy_of_ciphertext(state_dir: Path, tmp_path: Path) -> None:
    values = {"AdminPassword": "admin-backup-value-1", "NovaPassword": "nova-backup-value-2"}
    target = tmp_path / "backup.db"
    with Store.open(state_dir) as store:
        store.ensure_secrets("lab", list(values), values.__getitem__)
        record(store, "central", outputs="sha256:A")
        store.backup(target)  # while the store is open, its newest rows in the WAL
        with pytest.raises(StateError, match="exists; not overwritten") as exc:
            store.backup(target)
        assert "--force" in exc.value.hint
        record(store, "central", outputs="sha256:B")
        store.backup(target, force=True)
    assert os.stat(target).st_mode & 0o777 == 0o600
    data = target.read_bytes()
    assert not any(v.encode() in data for v in values.values())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dcn-backup")] == []
    with sqlite3.connect(target) as db:
        assert db.execute("select count(*) from generation").fetchone() == (2,)
    # restored beside the same key, it opens and decrypts
    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    target.rename(restored / "state.db")
    with Store.open(restored, key_file=state_dir.with_name("state.key")) as store:
        assert store.get_secrets("lab") == values


def test_backup_does_not_follow_a_planted_link(state_dir: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (tmp_path / "link.db").symlink_to(victim)
    with Store.open(state_dir) as store:
        with pytest.raises(StateError, match="exists"):
            store.backup(tmp_path / "link.db")
        store.backup(tmp_path / "link.db", force=True)
    assert victim.read_text() == "keep me"
    assert not (tmp_path / "link.db").is_symlink()


def test_postgresql_backup_points_to_pg_dump(store: Store, tmp_path: Path) -> None:
    if store._engine.dialect.name == "sqlite":
        pytest.skip("PostgreSQL only")
    with pytest.raises(StateError, match="copies SQLite state stores") as exc:
        store.backup(tmp_path / "b.db")
    assert "pg_dump" in exc.value.hint and "key file" in exc.value.hint
    assert str(store.key_path) in exc.value.hint
    assert not (tmp_path / "b.db").exists()
