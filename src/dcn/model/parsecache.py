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
from collections.abc import Callable
from pathlib import Path as FsPath
from typing import Any

import dcn
from dcn.model.limits import MAX_DEPTH, MAX_TOTAL_BYTES
from dcn.model.sourcemap import Mark, Path, SourceMap
from dcn.paths import private_temp

FORMAT = 3
KEY_BYTES = 32
#: a file's data, its number of values (for the size limit) and its marks
Parsed = tuple[dict[str, Any], int, SourceMap]


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


def _write_private(path: FsPath, data: bytes, *, durable: bool = True) -> None:
    """Write `data` to `path` 0600 atomically (a private temp file moved into place)."""
    tmp = private_temp(path.parent, path.name, data, sync=durable)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def user_key() -> bytes | None:
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


def read_signed(path: FsPath, key: bytes | None) -> bytes | None:
    """The body of a file `write_signed` wrote with `key`: ours, private, MAC intact."""
    if key is None:
        return None
    blob = _open_private(path)
    if blob is None:
        return None
    mac, _, body = blob.partition(b"\n")
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).hexdigest().encode()):
        return None
    return body


def write_signed(path: FsPath, key: bytes | None, body: bytes, *, durable: bool = True) -> None:
    """Write `body` with its MAC under `key`, 0600, atomically; only into a private
    directory of ours (a state dir that came with someone's folder is left alone).
    Failing to write is only a slower next run."""
    if key is None:
        return
    mac = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private_dir(path.parent):
            return
        _write_private(path, mac + b"\n" + body, durable=durable)
    except OSError:
        pass


_ALLOWED = frozenset({dict, list, str, int, float, bool, type(None)})
_STR_ONLY = frozenset({str})
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


def _data(count: str, data: str) -> tuple[dict[str, Any], int] | None:
    """A cached entry's data and number of values, or None if either is not sound."""
    if not (count.isascii() and count.isdigit()):
        return None
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if type(value) is not dict or not plain(value):
        return None
    return value, int(count)


def marks_of(raw: Any, shown: str) -> dict[Path, Mark] | None:
    """Cached marks ``[[path, line, column], ...]`` of file `shown`, or None if their
    shape is wrong."""
    if type(raw) is not list:
        return None
    out: dict[Path, Mark] = {}
    for item in raw:
        if type(item) is not list or len(item) != 3:
            return None
        path, line, col = item
        if type(path) is not list or type(line) is not int or type(col) is not int:
            return None
        if not set(map(type, path)) <= _PATH_PARTS:
            return None
        out[tuple(path)] = (shown, line, col)
    return out


def _lazy_marks(text: str, shown: str) -> Callable[[], dict[Path, Mark]]:
    """Decode a file's marks when a finding first needs one. Marks that do not decode
    (only a cache this user's dcn wrote gets this far) leave places at file level."""

    def decode() -> dict[Path, Mark]:
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError):
            return {}
        return marks_of(raw, shown) or {}

    return decode


class ParseCache:
    """Parsed files keyed by content digest and shown name, in one MAC'd file of JSON lines.

    The file is a MAC line, a JSON header (format, dcn's version), then one line per
    parsed file: digest, shown name (JSON), number of values, data (JSON), marks (JSON),
    tab-separated (JSON text holds no raw tab or line break). The file is read when a
    load first looks an entry up (a load whose files the validation memo knows
    unchanged never reads it), lines are split then, an entry's data is decoded when
    its file is loaded, its marks only when a finding needs a place, and unchanged
    entries are written back as they were.
    """

    def __init__(self, path: FsPath | None = None) -> None:
        self.path = path
        self._key = user_key() if path is not None else None
        #: "digest\tshown" -> "count\tdata\tmarks", read on first use
        self._read: dict[str, str] | None = None
        self._used: dict[str, str] = {}
        #: entries of files this load did not read, kept when the cache is written
        self._kept: list[str] = []
        self._dirty = False

    @property
    def _entries(self) -> dict[str, str]:
        if self._read is None:
            self._read = {}
            if self._key is not None and self.path is not None:
                self._read = self._load(self.path, self._key)
        return self._read

    @staticmethod
    def _load(path: FsPath, key: bytes) -> dict[str, str]:
        body = read_signed(path, key)
        if body is None:
            return {}
        try:
            header, *lines = body.decode("ascii").split("\n")
            doc = json.loads(header)
        except (ValueError, RecursionError):
            return {}
        if doc != {"format": FORMAT, "dcn": dcn.__version__}:
            return {}
        entries = {}
        for line in lines:
            parts = line.split("\t", 2)
            if len(parts) == 3:
                entries[f"{parts[0]}\t{parts[1]}"] = parts[2]
        return entries

    @staticmethod
    def key(digest: str, shown: str) -> str:
        return f"{digest}\t{json.dumps(shown)}"

    def get(self, digest: str, shown: str) -> Parsed | None:
        """The cached parse of `shown` with content `digest`, if a sound one is there."""
        key = self.key(digest, shown)
        raw = self._entries.get(key)
        if raw is None:
            return None
        parts = raw.split("\t")
        found = _data(parts[0], parts[1]) if len(parts) == 3 else None
        if found is None:
            del self._entries[key]
            return None
        self._used[key] = raw
        return found[0], found[1], SourceMap(shown, _lazy_marks(parts[2], shown))

    def keep(self, digest: str, shown: str) -> None:
        """Keep the entry of a file this load did not read (it did not change)."""
        self._kept.append(self.key(digest, shown))

    def put(self, digest: str, shown: str, value: Parsed) -> None:
        data, count, smap = value
        marks = [[list(path), line, col] for path, (_, line, col) in smap._marks.items()]
        encode = json.JSONEncoder(separators=(",", ":")).encode
        self._used[self.key(digest, shown)] = f"{count}\t{encode(data)}\t{encode(marks)}"
        self._dirty = True

    def save(self) -> None:
        """Write the entries used by this load (dropping others), atomically, mode 0600."""
        if self.path is None or self._key is None:
            return
        if self._read is None and not self._dirty:
            return  # nothing was looked up or added: the file on disk is still right
        for key in self._kept:
            raw = self._entries.get(key)
            if raw is not None:
                self._used.setdefault(key, raw)
        if not self._dirty and self._used.keys() == self._entries.keys():
            return
        header = json.dumps({"format": FORMAT, "dcn": dcn.__version__})
        body = "\n".join([header, *(f"{k}\t{v}" for k, v in self._used.items())]).encode()
        write_signed(self.path, self._key, body, durable=False)
