"""Pictures into files: the format from the file's suffix, written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dcn.errors import DcnError

#: suffix -> format
FORMATS = {".svg": "svg", ".png": "png"}


def picture_format(
    path: Path, flag: str = "--plot", allowed: tuple[str, ...] = ("svg", "png")
) -> str:
    """The format `path` asks for by its suffix, checked with its folder before any work
    is done; a clear error naming `flag` otherwise."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt not in allowed:
        names = " or ".join(f"FILE.{a}" for a in allowed)
        raise DcnError(
            f"{flag} {path}: cannot tell the picture's format from '{path.suffix or 'no suffix'}'",
            hint=f"{flag} takes {names}",
        )
    _writable(path)
    return fmt  # type: ignore[return-value]


def _writable(path: Path) -> None:
    if not path.parent.is_dir():
        raise DcnError(
            f"cannot write {path}: {path.parent} is not a directory",
            hint="name a file in an existing folder",
        )
    if path.is_dir():
        raise DcnError(f"cannot write {path}: it is a directory", hint="name a file")


def write_picture(path: Path, data: str | bytes) -> Path:
    """`data` at `path`, mode 0644 (a picture holds no secret): a temporary file beside
    it moved into place, so a wall screen reloading it never sees half a picture, and a
    link at `path` is replaced, not written through."""
    blob = data.encode("utf-8") if isinstance(data, str) else data
    _writable(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(blob)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as exc:
        raise DcnError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="choose a file in a folder you can write",
        ) from exc
    return path
