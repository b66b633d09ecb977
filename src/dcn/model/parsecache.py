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

FORMAT = 4
#: entries beyond twice the used ones (and this many) are pruned
PRUNE_SLACK = 64
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
    """Parsed files keyed by content digest and shown name: one signed file per entry.

    The cache is a directory (``parse-cache/`` in the state dir) of files named by a
    digest of (content digest, shown name), so a load reads only the entries of the
    files it parses, and an edit of one file of a 5,000-file fleet writes one small
    entry: the fleet's entries are never read or written all together. An entry file is
    a MAC line, a JSON header (format, dcn's version, shown name, content digest), then
    the number of values, the data (JSON) and the marks (JSON), tab-separated; its data
    is checked for shape and types, its marks decoded only when a finding needs a place.
    Entries no load used lately are pruned when they outnumber the used ones.
    """

    def __init__(self, path: FsPath | None = None) -> None:
        #: the directory of entries (None: an in-memory load with no cache)
        self.path = path
        self._key = user_key() if path is not None else None
        #: entry file names this load used (hit, kept or put): the others may be pruned
        self._used: set[str] = set()
        #: new entries, written when the load ends
        self._new: dict[str, bytes] = {}

    @staticmethod
    def _entry_name(digest: str, shown: str) -> str:
        return hashlib.sha256(f"{digest}\0{shown}".encode()).hexdigest()[:40] + ".entry"

    def _header(self, digest: str, shown: str) -> str:
        doc = {"format": FORMAT, "dcn": dcn.__version__, "shown": shown, "digest": digest}
        return json.dumps(doc, sort_keys=True)

    def get(self, digest: str, shown: str) -> Parsed | None:
        """The cached parse of `shown` with content `digest`, if a sound one is there."""
        if self.path is None or self._key is None:
            return None
        name = self._entry_name(digest, shown)
        body = read_signed(self.path / name, self._key)
        if body is None:
            return None
        try:
            header, entry = body.decode("utf-8").split("\n")
        except (UnicodeDecodeError, ValueError):
            return None
        parts = entry.split("\t")
        if header != self._header(digest, shown) or len(parts) != 3:
            return None
        found = _data(parts[0], parts[1])
        if found is None:
            return None
        self._used.add(name)
        return found[0], found[1], SourceMap(shown, _lazy_marks(parts[2], shown))

    def keep(self, digest: str, shown: str) -> None:
        """Keep the entry of a file this load did not read (it did not change)."""
        self._used.add(self._entry_name(digest, shown))

    def put(self, digest: str, shown: str, value: Parsed) -> None:
        data, count, smap = value
        marks = [[list(path), line, col] for path, (_, line, col) in smap._marks.items()]
        encode = json.JSONEncoder(separators=(",", ":")).encode
        entry = f"{count}\t{encode(data)}\t{encode(marks)}"
        name = self._entry_name(digest, shown)
        self._new[name] = f"{self._header(digest, shown)}\n{entry}".encode()
        self._used.add(name)

    def save(self) -> None:
        """Write this load's new entries (0600, atomically, not fsynced: a lost entry is
        a slower load) and prune entries no load used lately."""
        if self.path is None or self._key is None or not self._new:
            return
        state = self.path.parent
        try:
            state.mkdir(mode=0o700, parents=True, exist_ok=True)  # made here: 0700, as dcn's
        except OSError:
            return
        if not _private_dir(state):
            return  # a state dir that is not ours (it came with a folder): leave it be
        for name, body in self._new.items():
            write_signed(self.path / name, self._key, body, durable=False)
        self._new.clear()
        self._prune()

    def _prune(self) -> None:
        assert self.path is not None
        try:
            with os.scandir(self.path) as entries:
                names = [e.name for e in entries if e.name.endswith(".entry")]
            if len(names) <= 2 * len(self._used) + PRUNE_SLACK:
                return
            for name in names:
                if name not in self._used:
                    (self.path / name).unlink(missing_ok=True)
        except OSError:
            pass  # an untidy cache is only a larger one
