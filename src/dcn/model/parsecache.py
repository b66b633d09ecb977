"""Parsed description files by content digest, as plain JSON data (never pickle).

A 1,000-site fleet is 1,000 small files; re-planning after one edit should parse one
file, not all of them. The cache sits in the state directory, which may have come
with someone else's folder, so nothing in it is trusted blindly:

- it is JSON, read into dicts, lists and scalars only; nothing can construct objects;
- it carries an HMAC under a key only this user has (``~/.cache/dcn/cache.key``), so
  a cache written elsewhere cannot pass off other data as the parse of a file;
- dcn's version and the format version must match, every entry is checked for shape
  and types, and each is keyed by the file's content digest and shown name.

Anything wrong means a slower load (the file is parsed again), never an error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from itertools import chain, repeat
from pathlib import Path as FsPath
from typing import Any

import dcn
from dcn.heap import collector_paused
from dcn.model.limits import MAX_DEPTH, MAX_TOTAL_BYTES
from dcn.model.sourcemap import Path

FORMAT = 2
KEY_BYTES = 32
#: file data and its marks: (path, line, column) of every value
Parsed = tuple[dict[str, Any], list[tuple[Path, str, int, int]]]


def key_path() -> FsPath:
    """The per-user key of cache MACs: outside any description folder or state dir."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return FsPath(base) / "dcn" / "cache.key"


def _open_private(path: FsPath) -> bytes | None:
    """Bytes of a regular file of ours that nobody else may read; None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid != os.geteuid()
            or stat.S_IMODE(info.st_mode) & 0o077
            or info.st_size > MAX_TOTAL_BYTES
        ):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


def _private_dir(path: FsPath) -> bool:
    """Whether `path` is a real directory of this user that nobody else can enter."""
    info = os.lstat(path)
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and stat.S_IMODE(info.st_mode) & 0o077 == 0
    )


def _write_private(path: FsPath, data: bytes) -> None:
    """Write `data` to `path` 0600 atomically, through a fresh temp file (O_EXCL, no link)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _user_key() -> bytes | None:
    """This user's cache key, created on first use; None when it cannot be had."""
    path = key_path()
    key = _open_private(path)
    if key is not None and len(key) == KEY_BYTES:
        return key
    if key is not None or path.is_symlink():
        return None  # something else is there: do not replace it, just do not cache
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_private(path, os.urandom(KEY_BYTES))
    except OSError:
        return None
    key = _open_private(path)
    return key if key is not None and len(key) == KEY_BYTES else None


_ALLOWED = frozenset({dict, list, str, int, float, bool, type(None)})
_STR_ONLY = frozenset({str})
_INT_ONLY = frozenset({int})
_PATH_PARTS = frozenset({str, int})


def plain(value: Any) -> bool:
    """Whether `value` is JSON-like data only: str-keyed dicts, lists, scalars, not too deep.

    Type sets are taken with ``set(map(type, ...))`` (a C loop): this runs for every
    cached file on every load.
    """
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if type(item) is dict:
            if not set(map(type, item)) <= _STR_ONLY:
                return False
            children: Any = item.values()
        elif type(item) is list:
            children = item
        else:
            if type(item) not in _ALLOWED:
                return False
            continue
        kinds = set(map(type, children))
        if not kinds <= _ALLOWED:
            return False
        if dict in kinds or list in kinds:
            if depth + 1 >= MAX_DEPTH:
                return False
            stack.extend((c, depth + 1) for c in children if type(c) is dict or type(c) is list)
    return True


def _entry(raw: Any, shown: str) -> Parsed | None:
    """A cached [data, paths, lines, columns] as Parsed, or None if its shape is wrong."""
    if type(raw) is not list or len(raw) != 4:
        return None
    data, paths, lines, cols = raw
    if type(data) is not dict or not plain(data):
        return None
    if not (type(paths) is list and type(lines) is list and type(cols) is list):
        return None
    if not len(paths) == len(lines) == len(cols):
        return None
    if not (set(map(type, lines)) | set(map(type, cols))) <= _INT_ONLY:
        return None
    if not set(map(type, paths)) <= {list}:
        return None
    if not set(map(type, chain.from_iterable(paths))) <= _PATH_PARTS:
        return None
    return data, list(zip(map(tuple, paths), repeat(shown), lines, cols))


class ParseCache:
    """Parsed files keyed by content digest and shown name, in one MAC'd JSON file."""

    def __init__(self, path: FsPath | None = None) -> None:
        self.path = path
        self._key = _user_key() if path is not None else None
        self._entries: dict[str, Any] = {}
        self._used: dict[str, Any] = {}
        self._dirty = False
        if self._key is not None and path is not None:
            with collector_paused():
                self._entries = self._load(path, self._key)

    @staticmethod
    def _load(path: FsPath, key: bytes) -> dict[str, Any]:
        blob = _open_private(path)
        if blob is None:
            return {}
        mac, _, body = blob.partition(b"\n")
        if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).hexdigest().encode()):
            return {}
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            return {}
        if (
            type(doc) is not dict
            or doc.get("format") != FORMAT
            or doc.get("dcn") != dcn.__version__
            or type(doc.get("entries")) is not dict
        ):
            return {}
        return doc["entries"]

    @staticmethod
    def key(digest: str, shown: str) -> str:
        return f"{digest}\0{shown}"

    def get(self, digest: str, shown: str) -> Parsed | None:
        """The cached parse of `shown` with content `digest`, if a sound one is there."""
        key = self.key(digest, shown)
        raw = self._entries.get(key)
        if raw is None:
            return None
        parsed = _entry(raw, shown)
        if parsed is None:
            del self._entries[key]
            return None
        self._used[key] = raw
        return parsed

    def put(self, digest: str, shown: str, value: Parsed) -> None:
        data, marks = value
        self._used[self.key(digest, shown)] = [
            data,
            [list(m[0]) for m in marks],
            [m[2] for m in marks],
            [m[3] for m in marks],
        ]
        self._dirty = True

    def save(self) -> None:
        """Write the entries used by this load (dropping others), atomically, mode 0600."""
        if self.path is None or self._key is None:
            return
        if not self._dirty and self._used.keys() == self._entries.keys():
            return
        doc = {"format": FORMAT, "dcn": dcn.__version__, "entries": self._used}
        body = json.dumps(doc, separators=(",", ":")).encode()
        mac = hmac.new(self._key, body, hashlib.sha256).hexdigest().encode()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not _private_dir(self.path.parent):
                return  # a state dir that is not ours (it came with a folder): leave it be
            _write_private(self.path, mac + b"\n" + body)
        except OSError:
            pass  # no cache is only a slower next load
