"""Opening the store: private files whatever the umask, URLs, schema version, clear errors."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcn.errors import StateError
from dcn.state import Store
from dcn.state.schema import SCHEMA_VERSION
from tests.state.helpers import record


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_new_state_is_private_even_with_umask_000(state_dir: Path, open_umask: None) -> None:
    with Store.open(state_dir) as store:
        record(store, "central", outputs="sha256:A")
        db = state_dir / "state.db"
        assert mode(state_dir) == 0o700
        assert mode(db) == 0o600
        side = [p for p in state_dir.iterdir() if p != db]
        assert side, "WAL mode keeps -wal/-shm files beside the database"
        assert all(mode(p) == 0o600 for p in side), {p.name: oct(mode(p)) for p in side}


@pytest.mark.parametrize(
    ("dir_mode", "db_mode", "named"),
    [(0o755, 0o600, "state"), (0o700, 0o644, "state.db"), (0o750, 0o640, "state")],
)
def test_loose_existing_state_is_refused_not_tightened(
    state_dir: Path, open_umask: None, dir_mode: int, db_mode: int, named: str
) -> None:
    """A state dir that came with a folder (git gives 0755/0644) is never adopted."""
    state_dir.mkdir(mode=dir_mode)
    (state_dir / "state.db").write_bytes(b"not even read")
    (state_dir / "state.db").chmod(db_mode)
    with pytest.raises(StateError, match="is not trusted") as exc:
        Store.open(state_dir)
    assert str(state_dir / named if named == "state.db" else state_dir) in str(exc.value)
    assert "did not come from dcn on this machine" in exc.value.hint
    assert "--state-dir" in exc.value.hint
    assert mode(state_dir) == dir_mode and mode(state_dir / "state.db") == db_mode
    assert sorted(p.name for p in state_dir.iterdir()) == ["state.db"]
    assert not state_dir.with_name("state.key").exists()


def test_a_symlinked_database_is_refused(state_dir: Path, tmp_path: Path) -> None:
    state_dir.mkdir(mode=0o700)
    (tmp_path / "elsewhere.db").touch(mode=0o600)
    (state_dir / "state.db").symlink_to(tmp_path / "elsewhere.db")
    with pytest.raises(StateError, match="not a regular file"):
        Store.open(state_dir)
    assert (tmp_path / "elsewhere.db").read_bytes() == b""


def test_sqlite_uses_wal_and_foreign_keys(state_dir: Path) -> None:
    store = Store.open(state_dir)
    record(store, "central", outputs="sha256:A")
    with sqlite3.connect(state_dir / "state.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    with store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_records_survive_reopening(state_dir: Path) -> None:
    with Store.open(state_dir) as store:
        record(store, "central", outputs="sha256:A", plan='{"v":1}')
    with Store.open(state_dir) as store:
        assert store.latest_generation("lab", "central").plan_json() == '{"v":1}'
        assert record(store, "central", outputs="sha256:B") == 2


def test_explicit_sqlite_url(tmp_path: Path, open_umask: None) -> None:
    db = tmp_path / "elsewhere" / "dcn.sqlite"
    key = tmp_path / "dcn.key"
    with Store.open(url=f"sqlite:///{db}", key_file=key) as store:
        assert record(store, "central", outputs="sha256:A") == 1
        assert store.location == f"sqlite:///{db}"
    assert mode(db) == 0o600 and mode(db.parent) == 0o700 and mode(key) == 0o600
    with Store.open(url=f"sqlite:///{db}", key_file=key) as store:
        assert store.latest_generation("lab", "central").number == 1


def test_in_memory_url_keeps_one_database(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    key = tmp_path_factory.mktemp("key") / "dcn.key"
    with Store.open(url="sqlite://", key_file=key) as store:
        record(store, "dcn0")
        assert store.latest_generation("lab", "dcn0").number == 1
    assert list(tmp_path.iterdir()) == []


def test_url_wins_over_state_dir(tmp_path: Path) -> None:
    with Store.open(tmp_path / "unused", url=f"sqlite:///{tmp_path / 'x.db'}") as store:
        record(store, "dcn0")
    assert not (tmp_path / "unused").exists()
    assert (tmp_path / "unused.key").exists()  # the key stays beside the state dir


def test_a_newer_schema_is_refused(state_dir: Path) -> None:
    Store.open(state_dir).close()
    with sqlite3.connect(state_dir / "state.db") as db:
        assert db.execute("select value from meta where key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),
        )
        db.execute("update meta set value='7' where key='schema_version'")
    with pytest.raises(StateError, match="schema version 7, newer") as exc:
        Store.open(state_dir)
    assert "upgrade dcn" in exc.value.hint


def test_a_file_that_is_not_a_store_is_named(state_dir: Path) -> None:
    state_dir.mkdir(mode=0o700)
    (state_dir / "state.db").write_bytes(b"not sqlite at all, " * 100)
    (state_dir / "state.db").chmod(0o600)
    with pytest.raises(StateError, match="not a database") as exc:
        Store.open(state_dir)
    assert str(state_dir / "state.db") in str(exc.value)
    assert "another --state-dir" in exc.value.hint


def test_state_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("")
    with pytest.raises(StateError, match="is not a directory") as exc:
        Store.open(tmp_path / "state")
    assert "--state-dir" in exc.value.hint


def test_bad_urls_never_show_the_password() -> None:
    with pytest.raises(StateError, match="not a valid SQLAlchemy URL"):
        Store.open(url="hunter2 is not a url")
    with pytest.raises(StateError, match="no database driver") as exc:
        Store.open(url="postgresql+nosuchdriver://dcn:hunter2@db.example.com/dcn")
    assert "hunter2" not in str(exc.value) + exc.value.hint
    assert "db.example.com" in str(exc.value)


def test_nothing_to_open() -> None:
    with pytest.raises(StateError, match="no state store given"):
        Store.open()
