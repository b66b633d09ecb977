"""Crash reports: a bug's traceback kept private, unguessable and free of secret values.

Written into the state directory's ``crash/`` (0700) when the state directory is one
of ours, else into a private per-user directory ($XDG_STATE_HOME/dcn or
~/.local/state/dcn). Each report is a new 0600 file (O_EXCL, O_NOFOLLOW) with a random
name, so nobody can pre-create or link it. Its text goes through `dcn.redact`: secret
values this process opened, URL passwords and SQL parameters are masked.
"""

from __future__ import annotations

import os
import secrets
import stat
import traceback
from datetime import UTC, datetime
from pathlib import Path

from dcn import redact

#: the state directory of this run, once known (set by the CLI's callback)
state_dir: Path | None = None


def _private(path: Path, create: bool) -> bool:
    """`path` is (or, with `create`, now is) a directory of ours nobody else may enter."""
    if create:
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            return False
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and not stat.S_IMODE(info.st_mode) & 0o077
    )


def user_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dcn"


def report_dir() -> Path | None:
    """The state dir's crash/ if the state dir exists and is ours, else the per-user dir."""
    if state_dir is not None and _private(state_dir, create=False):
        crash = state_dir / "crash"
        if _private(crash, create=True):
            return crash
    fallback = user_dir()
    return fallback if _private(fallback, create=True) else None


def write_report(exc: BaseException) -> Path | None:
    """Write the redacted traceback of `exc`; None if no private place could take it."""
    text = redact.redact("".join(traceback.format_exception(exc)))
    where = report_dir()
    if where is None:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = where / f"crash-{stamp}-{secrets.token_hex(8)}.log"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError:
        return None
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return path
