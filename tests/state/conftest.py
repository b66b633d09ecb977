"""A fresh state store per test: SQLite, and PostgreSQL where its server is installed."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcn.state import Store
from tests.state.postgres import create_database, postgres_server, server_bin

_count = itertools.count()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    if server_bin() is None:
        pytest.skip("PostgreSQL server not installed (apt-get install postgresql)")
    # not under pytest's 0700 tmp tree: the server runs as the postgres user
    root = Path(tempfile.mkdtemp(prefix="dcn-pg-"))
    try:
        with postgres_server(root) as url:
            yield url
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, state_dir: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        with Store.open(state_dir) as opened:
            yield opened
        return
    url = create_database(request.getfixturevalue("postgres"), f"t{next(_count)}")
    with Store.open(url=url, key_file=state_dir.with_name("pg.key")) as opened:
        yield opened
