"""Writing an export file: private from its first byte, atomic, never silently replaced.

TripleO's ``export`` command wrote files with the default mode and overwrote older
exports without a trace; here the file is created 0600 (whatever the umask), written
to a temporary name and fsynced, then moved into place, and an existing export is
only replaced when the operator says so.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from dcn.errors import ExportError
from dcn.export.document import PARAMETERS, VERSION_KEY
from dcn.lines import comment_safe
from dcn.paths import private_temp

#: errors of filesystems without hard links; the no-clobber move falls back to a check
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV}


def _version_of(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    params = doc.get(PARAMETERS) if isinstance(doc, Mapping) else None
    version = params.get(VERSION_KEY) if isinstance(params, Mapping) else None
    return version if isinstance(version, Mapping) else None


def describe(version: Mapping[str, Any] | None) -> str:
    """``central@3 sha256:1234abcd (least-privilege, for dcn0)``: an export in one line."""
    if version is None:
        return "not a dcn export"
    who = f", for {version['for_site']}" if version.get("for_site") else ""
    digest = str(version.get("digest", ""))[:19]
    return (
        f"{version.get('stack')}@{version.get('generation')} {digest} ({version.get('scope')}{who})"
    )


def header(doc: Mapping[str, Any], filename: str) -> str:
    """The comment on top of an export: what it is, how to use it, that it holds secrets."""
    version = _version_of(doc)
    what = "the control plane's outputs"
    if version is not None:
        what = f"the outputs of control-plane stack {describe(version)}"
    lines = [
        f"dcn export: {what},",
        "as a TripleO environment file (parameter_defaults) for edge stacks.",
        "",
        "Use it with dcn: `control_plane_export: " + filename + "` in the description of",
        "edge sites whose control plane dcn does not manage, then `dcn plan`.",
        f"Use it with TripleO: openstack overcloud deploy --stack <edge> ... -e {filename}",
        "",
        "THIS FILE HOLDS SECRETS (passwords, keys). Keep it mode 0600, never commit it,",
        "and delete copies that are no longer needed.",
    ]
    if version is not None and version.get("dcn_version"):
        lines.append(f"Written by dcn {version['dcn_version']}.")
    # a file name or version field holding a line break must not end the comment
    return "".join(f"# {comment_safe(line)}".rstrip() + "\n" for line in lines) + "\n"


def _old_export(path: Path) -> str:
    try:
        old = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return "unreadable"
    return describe(_version_of(old) if isinstance(old, Mapping) else None)


def _exists(path: Path) -> ExportError:
    return ExportError(
        f"{path} exists; pass --force to replace it (the old export is {_old_export(path)})",
        hint="or write the new export to another file with -o",
    )


def _check_target(path: Path, force: bool) -> None:
    directory = path.parent
    if not directory.is_dir():
        raise ExportError(
            f"cannot write {path}: {directory} is not a directory",
            hint=f"create it first (mkdir -p {directory}) or choose another -o path",
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ExportError(
            f"cannot write {path}: the directory {directory} is not writable",
            hint="choose a directory you can write with -o, or fix its permissions",
        )
    if path.is_dir():
        raise ExportError(f"cannot write {path}: it is a directory", hint="name a file with -o")
    if path.exists() and not force:
        raise _exists(path)


def _install(tmp: Path, path: Path, force: bool) -> None:
    """Move the finished file into place; without force, never over an existing file."""
    if force:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # atomic and fails if `path` appeared meanwhile
    except FileExistsError:
        raise _exists(path) from None
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        if path.exists():
            raise _exists(path) from None
        os.replace(tmp, path)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_export(doc: Mapping[str, Any], path: Path, *, force: bool) -> None:
    """Write `doc` as commented YAML to `path`, mode 0600, atomically."""
    path = Path(path)
    _check_target(path, force)
    body = yaml.safe_dump(
        doc, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True
    )
    try:
        tmp = private_temp(path.parent, path.name, header(doc, path.name) + body)
        try:
            _install(tmp, path, force)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise ExportError(
            f"cannot write {path}: {exc.strerror or exc.__class__.__name__}",
            hint="choose another -o path, or fix the directory's permissions",
        ) from None
    _fsync_dir(path.parent)
