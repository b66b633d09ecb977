"""The deployment lock: one writer at a time, a clear message, dead holders broken."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcn.errors import StateError
from dcn.state import Store

HOLDER = """
import os, sys
from pathlib import Path
from dcn.state import Store
store = Store.open(Path(sys.argv[1]))
with store.lock("lab", "dcn deploy dcn0"):
    print("locked", flush=True)
    if sys.argv[2] == "die":
        os._exit(0)
    sys.stdin.readline()
"""


@pytest.fixture
def store(state_dir: Path) -> Iterator[Store]:
    """These tests share the SQLite file with helper processes: SQLite only."""
    with Store.open(state_dir) as opened:
        yield opened


def holder(state_dir: Path, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state_dir), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    return proc


def edit_lock(state_dir: Path, sql: str, *args: object) -> None:
    with sqlite3.connect(state_dir / "state.db") as db:
        db.execute(sql, args)


def test_held_lock_names_its_holder_and_the_way_out(store: Store, state_dir: Path) -> None:
    proc = holder(state_dir, "wait")
    try:
        with pytest.raises(StateError) as exc, store.lock("lab", "dcn plan"):
            pass
        assert f"locked by dcn deploy dcn0 (pid {proc.pid} on " in str(exc.value)
        assert "dcn state unlock lab" in exc.value.hint
        with store.lock("other", "dcn plan"):  # other deployments are not blocked
            pass
    finally:
        proc.communicate("\n")
    assert store.lock_info("lab") is None
    with store.lock("lab", "dcn plan") as info:
        assert info.pid == os.getpid() and info.holder == "dcn plan"


def test_lock_of_a_dead_process_on_this_host_is_broken(store: Store, state_dir: Path) -> None:
    holder(state_dir, "die").wait()
    assert store.lock_info("lab").holder == "dcn deploy dcn0"
    with store.lock("lab", "dcn plan") as info:
        assert store.lock_info("lab") == info


def test_a_previous_process_with_our_pid_is_not_us(store: Store, state_dir: Path) -> None:
    holder(state_dir, "die").wait()
    edit_lock(state_dir, "update lock set pid = ?", os.getpid())
    with store.lock("lab", "dcn plan") as info:
        assert info.holder == "dcn plan"


def test_lock_from_another_host_needs_unlock(store: Store, state_dir: Path) -> None:
    holder(state_dir, "die").wait()
    edit_lock(state_dir, "update lock set host = 'elsewhere'")
    with pytest.raises(StateError, match="on elsewhere"), store.lock("lab", "dcn plan"):
        pass
    broken = store.unlock("lab")
    assert broken is not None and broken.host == "elsewhere"
    assert store.unlock("lab") is None
    with store.lock("lab", "dcn plan"):
        pass


def test_one_writer_per_process_too(state_dir: Path) -> None:
    with Store.open(state_dir) as first, Store.open(state_dir) as second:
        with (
            first.lock("lab", "first"),
            pytest.raises(StateError, match="locked by first"),
            second.lock("lab", "second"),
        ):
            pass
        with second.lock("lab", "second"):
            assert first.lock_info("lab").holder == "second"


def test_lock_is_released_when_the_block_fails(store: Store) -> None:
    with pytest.raises(RuntimeError), store.lock("lab", "dcn deploy"):
        raise RuntimeError("deploy failed")
    assert store.lock_info("lab") is None
