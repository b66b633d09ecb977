"""One writer per deployment: a row in the `lock` table, taken insert-or-fail.

A row left behind by a process that died on this host is broken automatically; one
from another host cannot be judged from here, so the error names the holder and the
command that breaks it (`dcn state unlock`).
"""

from __future__ import annotations

import os
import secrets
import socket

from sqlalchemy import delete
from sqlalchemy.orm import Session

from dcn.errors import StateError
from dcn.state.records import LockInfo
from dcn.state.schema import Lock, utcnow

#: tokens of the locks this process holds (any Store instance, any thread)
_HELD: set[str] = set()


def _info(row: Lock) -> LockInfo:
    return LockInfo(row.deployment, row.holder, row.pid, row.host, row.since)


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (signal 0)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _abandoned(row: Lock) -> bool:
    """True if the holder is certainly gone: same host, and its process is not running.

    Our own pid with a token we did not issue is a previous process that had the same
    pid (common in containers), so it is gone too.
    """
    if row.host != socket.gethostname():
        return False
    if row.pid == os.getpid():
        return row.token not in _HELD
    return not process_alive(row.pid)


def held_error(info: LockInfo) -> StateError:
    return StateError(
        f"deployment {info.deployment} is locked by {info}",
        hint="wait for that command to finish; if it is no longer running, "
        f"run 'dcn state unlock {info.deployment}'",
    )


def acquire(session: Session, deployment: str, holder: str) -> tuple[str, LockInfo]:
    """Take the lock in `session`'s write transaction; return its token and description.

    Call `held(token)` once the transaction has committed.
    """
    row = session.get(Lock, deployment)
    if row is not None:
        if not _abandoned(row):
            raise held_error(_info(row))
        session.delete(row)
        session.flush()
    token = secrets.token_hex(16)
    row = Lock(
        deployment=deployment,
        holder=holder,
        pid=os.getpid(),
        host=socket.gethostname(),
        token=token,
        since=utcnow(),
    )
    session.add(row)
    session.flush()
    return token, _info(row)


def held(token: str) -> None:
    _HELD.add(token)


def release(session: Session, deployment: str, token: str) -> None:
    """Drop the lock if it is still ours (someone may have broken it meanwhile)."""
    _HELD.discard(token)
    session.execute(delete(Lock).where(Lock.deployment == deployment, Lock.token == token))


def current(session: Session, deployment: str) -> LockInfo | None:
    row = session.get(Lock, deployment)
    return _info(row) if row is not None else None


def force_release(session: Session, deployment: str) -> LockInfo | None:
    """Remove whatever lock the deployment has; return who held it."""
    row = session.get(Lock, deployment)
    if row is None:
        return None
    info = _info(row)
    session.delete(row)
    return info
