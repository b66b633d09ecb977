"""Secrets at rest: sealed with the key file, a missing/wrong/loose key is a clear error."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from dcn.errors import StateError
from dcn.state import Store
from dcn.state.keyfile import KeyFile
from dcn.state.schema import SCHEMA_VERSION

VALUES = {"AdminPassword": "admin-Pa55word-xyz", "NovaPassword": "nova-Pa55word-abc"}


def fill(store: Store) -> None:
    store.ensure_secrets("lab", list(VALUES), VALUES.__getitem__)


def raw_bytes(state_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in state_dir.iterdir())


def key_of(state_dir: Path) -> Path:
    return state_dir.with_name(state_dir.name + ".key")


def test_no_value_in_the_sqlite_files_and_the_key_is_private(state_dir: Path) -> None:
    with Store.open(state_dir) as store:
        fill(store)
        store.import_secrets("lab", {"RabbitPassword": "imported-Pa55word"})
        data = raw_bytes(state_dir)  # database and its WAL, while open
    data += raw_bytes(state_dir)
    for value in [*VALUES.values(), "imported-Pa55word"]:
        assert value.encode() not in data
    key = key_of(state_dir)
    assert os.stat(key).st_mode & 0o777 == 0o600
    with Store.open(state_dir) as store:
        assert store.get_secrets("lab") == {**VALUES, "RabbitPassword": "imported-Pa55word"}


def test_no_value_in_the_postgresql_rows(store: Store) -> None:
    fill(store)
    with store._engine.connect() as conn:
        rows = conn.exec_driver_sql("select * from secret").all()
        dump = repr(rows) + repr(conn.exec_driver_sql("select * from meta").all())
    assert len(rows) == 2 and all(str(r.value).startswith("dcn1:") for r in rows)
    assert not any(v in dump for v in VALUES.values())
    assert store.get_secrets("lab") == VALUES


def test_missing_key_is_an_error_never_a_new_key(state_dir: Path) -> None:
    with Store.open(state_dir) as store:
        fill(store)
    key = key_of(state_dir)
    key.rename(state_dir.parent / "moved.key")
    with pytest.raises(StateError, match="holds encrypted secrets, but their key file") as exc:
        Store.open(state_dir)
    assert str(key) in str(exc.value) and "DCN_KEY_FILE" in exc.value.hint
    assert not key.exists()
    with Store.open(state_dir, key_file=state_dir.parent / "moved.key") as store:
        assert store.get_secrets("lab") == VALUES


def test_wrong_key_is_refused_before_decrypting(state_dir: Path, tmp_path: Path) -> None:
    with Store.open(state_dir) as store:
        fill(store)
    other = tmp_path / "other.key"
    KeyFile(other).create()
    with pytest.raises(StateError, match="is not the key of the state store") as exc:
        Store.open(state_dir, key_file=other)
    assert "DCN_KEY_FILE" in exc.value.hint


def test_a_new_store_may_use_an_existing_key(tmp_path: Path) -> None:
    shared = tmp_path / "shared.key"
    KeyFile(shared).create()
    before = shared.read_bytes()
    with Store.open(tmp_path / "a", key_file=shared) as store:
        fill(store)
    assert shared.read_bytes() == before


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604])
def test_loose_key_mode_is_refused(state_dir: Path, loose: int) -> None:
    Store.open(state_dir).close()
    key_of(state_dir).chmod(loose)
    with pytest.raises(StateError, match="may be read by others") as exc:
        Store.open(state_dir)
    assert f"chmod 600 {key_of(state_dir)}" in exc.value.hint


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_key_owned_by_someone_else_is_refused(state_dir: Path) -> None:
    Store.open(state_dir).close()
    os.chown(key_of(state_dir), 4242, -1)
    with pytest.raises(StateError, match="is owned by uid 4242"):
        Store.open(state_dir)


def test_symlinked_or_garbled_key_is_refused(state_dir: Path, tmp_path: Path) -> None:
    Store.open(state_dir).close()
    key = key_of(state_dir)
    key.rename(tmp_path / "real.key")
    key.symlink_to(tmp_path / "real.key")
    with pytest.raises(StateError, match="symbolic link is never followed"):
        Store.open(state_dir)
    key.unlink()
    key.write_text("not a key\n")
    key.chmod(0o600)
    with pytest.raises(StateError, match="does not hold a dcn key"):
        Store.open(state_dir)


def test_altered_or_moved_ciphertext_is_detected(state_dir: Path) -> None:
    with Store.open(state_dir) as store:
        fill(store)
    with sqlite3.connect(state_dir / "state.db") as db:
        admin = db.execute("select value from secret where name='AdminPassword'").fetchone()[0]
        db.execute("update secret set value=? where name='NovaPassword'", (admin,))
    with Store.open(state_dir) as store, pytest.raises(StateError) as exc:
        store.get_secrets("lab")
    assert "NovaPassword" in str(exc.value) and "cannot be decrypted" in str(exc.value)
    assert not any(v in str(exc.value) + exc.value.hint for v in VALUES.values())


def test_a_plaintext_schema_2_store_is_sealed_on_upgrade(state_dir: Path) -> None:
    with Store.open(state_dir) as store:
        fill(store)
    key_of(state_dir).unlink()
    db = sqlite3.connect(state_dir / "state.db")  # back to what schema 2 stored
    with db:
        for name, value in VALUES.items():
            db.execute("update secret set value=? where name=?", (value, name))
        db.execute("delete from meta where key='secret_key_id'")
        db.execute("update meta set value='2' where key='schema_version'")
        db.execute("drop table redeploy_mark")
        db.execute("alter table secret drop column imported")
    db.close()
    with Store.open(state_dir) as store:
        assert store.get_secrets("lab") == VALUES
        store.import_secrets("lab", {"RabbitPassword": "theirs-12345"})
        assert store.imported_secret_names("lab") == ["RabbitPassword"]
    assert not any(v.encode() in raw_bytes(state_dir) for v in VALUES.values())
    with sqlite3.connect(state_dir / "state.db") as check:
        version = check.execute("select value from meta where key='schema_version'").fetchone()
    assert version == (str(SCHEMA_VERSION),)
