"""Opening the state database: private files, SQLite settings, schema version.

The state holds every password of a deployment, so the directory is 0700 and the
SQLite file is created 0600 *before* SQLite opens it (SQLite gives its -wal and -shm
files the database file's mode). Write transactions on SQLite begin IMMEDIATE, so a
second writer waits for the first instead of failing half-way through.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from dcn.errors import StateError
from dcn.state.schema import SCHEMA_VERSION, Base, Meta

DB_FILE = "state.db"
#: execution option that marks a connection as a writer (BEGIN IMMEDIATE on SQLite)
WRITE_OPTION = "dcn_write"
_SIDE_FILES = ("-wal", "-shm", "-journal")
_BUSY_TIMEOUT_MS = 30_000


def _private_dir(path: Path) -> None:
    """Create `path` 0700, or tighten it if group or others can get in."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if stat.S_IMODE(path.stat().st_mode) != 0o700:
            path.chmod(0o700)
    except OSError as exc:
        raise StateError(
            f"cannot use state directory {path}: {exc.strerror}",
            hint="choose a directory you own with --state-dir (or DCN_STATE_DIR)",
        ) from exc


def _private_file(path: Path) -> None:
    """Create the database file 0600 whatever the umask, and tighten its side files."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if stat.S_IMODE(os.fstat(fd).st_mode) != 0o600:
                os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        for suffix in _SIDE_FILES:
            side = path.with_name(path.name + suffix)
            if side.exists() and stat.S_IMODE(side.stat().st_mode) != 0o600:
                side.chmod(0o600)
    except OSError as exc:
        raise StateError(
            f"cannot open state database {path}: {exc.strerror}",
            hint="check the owner and mode of the file and its directory, "
            "or choose another --state-dir",
        ) from exc


def _sqlite_file(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for an in-memory or URI database."""
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def _sqlite_events(engine: Engine, wal: bool) -> None:
    """Foreign keys on, WAL, a busy timeout, and explicit BEGIN [IMMEDIATE]."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        if wal:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        writer = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def describe(url: URL) -> str:
    """The URL as it may be shown: never with its password."""
    return url.render_as_string(hide_password=True)


def create(state_dir: Path | None, url: str | None) -> tuple[Engine, str]:
    """An engine on the state database (created if new), and a printable location."""
    if url is None:
        if state_dir is None:
            raise StateError("no state store given", hint="pass --state-dir DIR or --state-url URL")
        _private_dir(state_dir)
        parsed = URL.create("sqlite", database=str(state_dir / DB_FILE))
    else:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StateError(
                "the state URL is not a valid SQLAlchemy URL",
                hint="for example postgresql+psycopg://dcn@db.example.com/dcn "
                "or sqlite:////var/lib/dcn/state.db",
            ) from exc
    where = describe(parsed)
    options: dict[str, Any] = {"hide_parameters": True}
    sqlite = parsed.get_backend_name() == "sqlite"
    file = _sqlite_file(parsed) if sqlite else None
    if file is not None:
        if not file.parent.exists():
            _private_dir(file.parent)
        _private_file(file)
    elif sqlite:
        options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    try:
        engine = create_engine(parsed, **options)
    except (NoSuchModuleError, ImportError) as exc:
        raise StateError(
            f"no database driver for {parsed.drivername} ({where})",
            hint="install it, for example: pip install 'psycopg[binary]' for postgresql+psycopg://",
        ) from exc
    if sqlite:
        _sqlite_events(engine, wal=file is not None)
    prepare(engine, where)
    if file is not None:
        _private_file(file)
    return engine, where


def _stored_version(engine: Engine) -> int | None:
    if not inspect(engine).has_table(Meta.__tablename__):
        return None
    with engine.connect() as conn:
        value = conn.scalar(select(Meta.value).where(Meta.key == "schema_version"))
    return int(value) if value is not None else None


def prepare(engine: Engine, where: str) -> None:
    """Create the tables of a new store; refuse a store written by a newer dcn."""
    try:
        version = _stored_version(engine)
        if version is not None and version > SCHEMA_VERSION:
            raise StateError(
                f"the state store {where} has schema version {version}, newer than "
                f"this dcn understands ({SCHEMA_VERSION})",
                hint="upgrade dcn to the version that last wrote this state, "
                "or use another --state-dir",
            )
        if version == SCHEMA_VERSION:
            return
        # a new store, or an older one: version 1 -> 2 added tables only
        with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            Base.metadata.create_all(conn)
            # migrations so far only add tables, which create_all just did
            if conn.scalar(select(Meta.value).where(Meta.key == "schema_version")) is None:
                conn.execute(
                    Meta.__table__.insert().values(key="schema_version", value=str(SCHEMA_VERSION))
                )
            else:
                conn.execute(
                    Meta.__table__.update()
                    .where(Meta.key == "schema_version")
                    .values(value=str(SCHEMA_VERSION))
                )
    except Exception as exc:
        engine.dispose()
        if isinstance(exc, SQLAlchemyError):
            raise db_error(exc, where, "opening") from exc
        raise


def db_error(exc: SQLAlchemyError, where: str, doing: str) -> StateError:
    """A database failure as the operator should see it: what, where, what next.

    Only the first line of the driver's message is kept: PostgreSQL puts row contents
    (which may include a secret) on its DETAIL line.
    """
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).splitlines()
    detail = lines[0] if lines else type(exc).__name__
    low = detail.lower()
    if "locked" in low or "busy" in low:
        hint = "another dcn process is writing this state; wait for it, then re-run"
    elif "readonly" in low or "read-only" in low or "permission" in low or "unable to open" in low:
        hint = "you may not write to the state store: check the owner and mode of it"
    elif "not a database" in low:
        hint = "this is not a dcn state store: move it away or choose another --state-dir"
    else:
        hint = "nothing was recorded (the transaction was rolled back); re-run the command"
    return StateError(f"{doing} the state store {where} failed: {detail}", hint=hint)
