"""`dcn state backup`: a consistent copy of a SQLite store, private from its first byte.

SQLite's online backup API copies a snapshot while other dcn processes keep working.
The copy is written to a 0600 temporary file beside the target and then linked into
place, so it never exists with a looser mode, and an existing file is replaced only
when asked. Secret values in it stay sealed: the copy is useless without the key file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy import Engine

from dcn.errors import StateError


def pg_dump_hint(key_path: Path | None) -> str:
    key = f" ({key_path})" if key_path else ""
    return (
        "use the database's own tools, for example: pg_dump --format=custom "
        "--file=dcn-state.dump 'postgresql://USER@HOST/DB' (restore with pg_restore); "
        "the dump holds the secrets sealed, not their key: keep the key file"
        f"{key} backed up too, apart from the dump"
    )


def backup_sqlite(
    engine: Engine, where: str, target: Path, force: bool, key_path: Path | None = None
) -> None:
    """Copy the store behind `engine` to `target` (0600); StateError for other databases."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        raise StateError(
            f"dcn state backup copies SQLite state stores; {where} is not one",
            hint=pg_dump_hint(key_path),
        )
    target = Path(target)
    if os.path.lexists(target) and not force:
        raise StateError(
            f"{target} exists; not overwritten", hint="choose another -o FILE, or pass --force"
        )
    try:
        fd, tmp = tempfile.mkstemp(prefix=".dcn-backup-", dir=target.parent or Path("."))
    except OSError as exc:
        raise StateError(
            f"cannot write a backup in {target.parent}: {exc.strerror}",
            hint="choose a directory you may write to with -o",
        ) from exc
    os.close(fd)
    try:
        raw = engine.raw_connection()
        try:
            copy = sqlite3.connect(tmp)
            try:
                raw.driver_connection.backup(copy)  # type: ignore[union-attr]
            finally:
                copy.close()
        finally:
            raw.close()
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise StateError(
                    f"{target} appeared meanwhile; not overwritten",
                    hint="choose another -o FILE, or pass --force",
                ) from None
    except sqlite3.Error as exc:
        raise StateError(
            f"backing up the state store {where} failed: {exc}",
            hint="nothing was written; re-run the command",
        ) from exc
    except OSError as exc:
        raise StateError(
            f"cannot write the backup {target}: {exc.strerror}",
            hint="choose a file you may write with -o",
        ) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
