"""Opening the state database: private files, SQLite settings, schema version, key.

The state holds every password of a deployment (sealed with the key file), so the
directory is 0700 and the SQLite file is created 0600 *before* SQLite opens it
(SQLite gives its -wal and -shm files the database file's mode). An existing state
directory or database that another user owns, or that group or others may access,
is refused before anything in it is read: it did not come from dcn on this machine.
Write transactions on SQLite begin IMMEDIATE, so a second writer waits for the first
instead of failing half-way through.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from dcn.errors import StateError
from dcn.state.keyfile import KeyFile
from dcn.state.schema import SCHEMA_VERSION, Base, Meta, Secret
from dcn.state.sealing import SecretBox, seal_plaintext, unlock

DB_FILE = "state.db"
#: execution option that marks a connection as a writer (BEGIN IMMEDIATE on SQLite)
WRITE_OPTION = "dcn_write"
_SIDE_FILES = ("-wal", "-shm", "-journal")
_BUSY_TIMEOUT_MS = 30_000


_FOREIGN_HINT = (
    "it did not come from dcn on this machine (dcn keeps it owned by you, 0700, and "
    "state.db 0600); if it came with the description folder, move it away or use "
    "--state-dir elsewhere; if it is yours, fix its owner or mode (chmod 700 DIR, "
    "chmod 600 DIR/state.db)"
)


def _refuse(path: Path, why: str) -> StateError:
    return StateError(f"the state {path} is not trusted: {why}", hint=_FOREIGN_HINT)


def _check_owned(path: Path, info: os.stat_result, want_dir: bool) -> None:
    """Refuse what another user owns, or what group or others may access."""
    kind_ok = stat.S_ISDIR(info.st_mode) if want_dir else stat.S_ISREG(info.st_mode)
    if not kind_ok:
        what = "a directory" if want_dir else "a regular file"
        raise _refuse(path, f"it is not {what} (symbolic links are not followed)")
    if info.st_uid != os.geteuid():
        raise _refuse(path, f"it is owned by uid {info.st_uid}, not by you (uid {os.geteuid()})")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise _refuse(path, f"group or others may access it (mode {mode:04o})")


def _private_dir(path: Path) -> None:
    """Create `path` 0700; an existing one must already be ours and private (never tightened:
    a state directory that arrived with someone's folder is not silently adopted)."""
    try:
        path.mkdir(mode=0o700, parents=True)
        return
    except FileExistsError:
        pass
    except OSError as exc:
        raise StateError(
            f"cannot use state directory {path}: {exc.strerror}",
            hint="choose a directory you own with --state-dir (or DCN_STATE_DIR)",
        ) from exc
    _check_owned(path, os.lstat(path), want_dir=True)


def _private_file(path: Path) -> None:
    """Create the database file 0600 (O_EXCL, no symlink); an existing one, and its side
    files, must be ours and 0600 before SQLite reads a byte of them."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            if stat.S_IMODE(os.fstat(fd).st_mode) != 0o600:
                os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StateError(
            f"cannot open state database {path}: {exc.strerror}",
            hint="check the owner and mode of the file and its directory, "
            "or choose another --state-dir",
        ) from exc
    for candidate in (path, *(path.with_name(path.name + s) for s in _SIDE_FILES)):
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            continue
        _check_owned(candidate, info, want_dir=False)


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


def create(
    state_dir: Path | None, url: str | None, keys: KeyFile | None
) -> tuple[Engine, str, SecretBox]:
    """An engine on the state database (created if new), a printable location, and the
    box that seals its secrets (the key file checked against the store)."""
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
    prepare(engine, where, keys)
    box = open_box(engine, where, keys)
    if file is not None:
        _private_file(file)
    return engine, where, box


def open_box(engine: Engine, where: str, keys: KeyFile | None) -> SecretBox:
    """Check the key file against the store; record its id (or create it) when new."""
    try:
        with engine.connect() as conn, conn.begin():
            box = unlock(conn, keys, where, record=False)
        if box is None:
            with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
                box = unlock(conn, keys, where, record=True)
    except Exception as exc:
        engine.dispose()
        if isinstance(exc, SQLAlchemyError):
            raise db_error(exc, where, "opening") from exc
        raise
    if box is None:  # record=True always gives a box or raises
        raise StateError(f"cannot unlock the secrets of {where}", hint="re-run the command")
    return box


def _stored_version(engine: Engine) -> int | None:
    if not inspect(engine).has_table(Meta.__tablename__):
        return None
    with engine.connect() as conn:
        value = conn.scalar(select(Meta.value).where(Meta.key == "schema_version"))
    return int(value) if value is not None else None


def _add_columns(conn: Connection) -> None:
    """Columns added since schema 1 (create_all adds tables, never columns)."""
    have = {c["name"] for c in inspect(conn).get_columns(Secret.__tablename__)}
    if "imported" not in have:
        conn.exec_driver_sql(
            "ALTER TABLE secret ADD COLUMN imported BOOLEAN NOT NULL DEFAULT false"
        )


def prepare(engine: Engine, where: str, keys: KeyFile | None = None) -> None:
    """Create the tables of a new store, migrate an older one (schema 3 seals plaintext
    secrets with the key file); refuse a store written by a newer dcn."""
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
        # a new store, or an older one: 1 -> 2 added tables (create_all); 2 -> 3 a
        # column and sealed secrets
        with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            Base.metadata.create_all(conn)
            if version is not None:
                _add_columns(conn)
                seal_plaintext(conn, keys, where)
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
