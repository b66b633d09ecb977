"""Path confinement: a file dcn writes under a directory stays under it.

Names from a description (site names, host names, file paths of a plan) become path
components. Validation refuses names that could leave their directory (DCN107); this
is the check below it, at every place that joins such a name to a directory.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path, PurePosixPath

from dcn.errors import DcnError


def confined(root: Path, *parts: str) -> Path:
    """`root` joined with `parts`, refused unless it resolves (symlinks too) inside `root`.

    A part may be an absolute path of a node's file (``/etc/nova/nova.conf``): it is
    taken relative to `root`. ``..`` components are refused outright.
    """
    relative: list[str] = []
    for part in parts:
        pieces = PurePosixPath(part).parts
        if any(p in ("..", "") or "\0" in p for p in pieces if p != "/"):
            raise _escape(root, parts)
        relative += [p for p in pieces if p != "/"]
    if not relative:
        raise _escape(root, parts)
    base = root.resolve()
    target = base.joinpath(*relative)
    if not target.resolve().is_relative_to(base):
        raise _escape(root, parts)  # a symbolic link on the way points outside
    return target


def _escape(root: Path, parts: tuple[str, ...]) -> DcnError:
    shown = "/".join(parts)
    return DcnError(
        f"refusing to write {shown!r}: it is outside {root}",
        hint="a site or host name holds '/', '..' or a link points elsewhere; "
        "run `dcn validate` (rule DCN107) and remove symbolic links from the directory",
    )


def write_confined(root: Path, parts: tuple[str, ...], text: str, mode: int) -> Path:
    """Write `text` at `confined(root, *parts)`, never through a symbolic link."""
    target = confined(root, *parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    confined(root, *parts)  # again: the directories exist now
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(target, flags, mode)
    except OSError as exc:
        raise DcnError(
            f"cannot write {target}: {exc.strerror}",
            hint="a symbolic link is in the way, or the directory is not writable",
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(text)
    return target


def private_temp(directory: Path, name: str, data: bytes | str, *, sync: bool = True) -> Path:
    """A new 0600 file (umask-proof, O_EXCL, never through a link) in `directory`
    holding `data`, fsynced (unless `sync` is False: a cache): moved into place by the
    caller, so readers never see half a file."""
    tmp = directory / f".{name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask may have removed bits; never more than 0600
        with os.fdopen(fd, "wb") as handle:
            fd = -1
            handle.write(data.encode() if isinstance(data, str) else data)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_private(path: Path, text: str) -> None:
    """`text` at `path`, 0600 from its first byte: a private temporary file beside it
    moved into place, so a reader never sees half a file nor a wider mode. Missing
    folders are made 0700."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = private_temp(path.parent, path.name, text)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def private_opener(path: str, flags: int) -> int:
    """An `open(..., opener=)` for files only their owner reads: 0600 whatever the
    umask, never through a link."""
    fd = os.open(path, flags | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    return fd
