"""Read a deployment description (YAML, with included files) into plain data and a SourceMap.

PyYAML's C composer gives nodes with line marks; we walk them ourselves so every value
keeps its file and line, duplicate keys are caught (PyYAML silently keeps the last),
and `include:` lists of files or globs are merged. The data is then validated by the
pydantic model in `description.py`.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pickle
from pathlib import Path as FsPath
from typing import Any

import yaml

from dcn.errors import DescriptionError, Location
from dcn.model.sourcemap import Path, SourceMap

try:  # the C composer is ~10x faster; fall back to pure Python where libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_constructor = yaml.constructor.SafeConstructor()
_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
#: keys of included files that are concatenated rather than merged
LIST_KEYS = ("sites",)


def _scalar(node: yaml.ScalarNode, file: str) -> Any:
    if node.tag not in _SCALAR_TAGS and node.tag != "tag:yaml.org,2002:timestamp":
        raise DescriptionError(
            f"unsupported YAML tag {node.tag!r}",
            hint="use plain values; include other files with a top-level 'include:' list",
            location=Location(file, node.start_mark.line + 1, node.start_mark.column + 1),
        )
    if node.tag == "tag:yaml.org,2002:timestamp":
        return node.value
    return _constructor.construct_object(node)


def _walk(node: yaml.Node, path: Path, file: str, smap: SourceMap) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise DescriptionError(
                    "a mapping key must be a plain value",
                    location=Location(
                        file, key_node.start_mark.line + 1, key_node.start_mark.column + 1
                    ),
                )
            key = str(_scalar(key_node, file))
            line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if key in out:
                raise DescriptionError(
                    f"key {key!r} is given twice in the same mapping",
                    hint="remove one of them: YAML would silently keep only the last",
                    location=Location(file, line, col, ".".join(map(str, (*path, key)))),
                )
            smap.record((*path, key), file, line, col)
            out[key] = _walk(value_node, (*path, key), file, smap)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            smap.record((*path, index), file, item.start_mark.line + 1, item.start_mark.column + 1)
            items.append(_walk(item, (*path, index), file, smap))
        return items
    return _scalar(node, file)


def _compose(text: str, file: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        raise DescriptionError(
            f"not valid YAML: {exc.problem or exc.context}",
            hint="fix the YAML syntax at this position (indentation, quotes, colons)",
            location=Location(file, line, col),
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - composer errors are marked
        raise DescriptionError(f"not valid YAML: {exc}", location=Location(file)) from None


def _read(path: FsPath, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DescriptionError(
            f"description file {shown} does not exist",
            hint="give the path of a deployment description with -f/--file or DCN_FILE",
            location=Location(shown),
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DescriptionError(
            f"cannot read description file {shown}: {exc}", location=Location(shown)
        ) from None


Parsed = tuple[dict[str, Any], list[tuple[Path, str, int, int]]]


class ParseCache:
    """Parsed files by content digest, kept in one pickle file under the state directory.

    A 1,000-site fleet is 1,000 small files; re-planning after one edit should parse
    one file, not all of them. The cache lives in the operator's 0700 state directory
    and holds only the description's own data.
    """

    def __init__(self, path: FsPath | None = None) -> None:
        self.path = path
        self._entries: dict[str, bytes] = {}
        self._used: set[str] = set()
        self._dirty = False
        if path is not None and path.exists():
            try:
                with path.open("rb") as fh:
                    self._entries = pickle.load(fh)
            except Exception:  # a damaged cache is only a slower load
                self._entries = {}

    def get(self, digest: str) -> Parsed | None:
        blob = self._entries.get(digest)
        if blob is None:
            return None
        self._used.add(digest)
        return pickle.loads(blob)

    def put(self, digest: str, value: Parsed) -> None:
        self._entries[digest] = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        self._used.add(digest)
        self._dirty = True

    def save(self) -> None:
        """Write the entries used by this load (dropping others), atomically, mode 0600."""
        if self.path is None or not (self._dirty or len(self._used) != len(self._entries)):
            return
        keep = {k: v for k, v in self._entries.items() if k in self._used}
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(keep, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.path)


class LoadedDescription:
    """Plain data of a description with its SourceMap and the files it was read from."""

    def __init__(self, data: dict[str, Any], smap: SourceMap, files: dict[str, str]) -> None:
        self.data = data
        self.smap = smap
        #: shown file name -> sha256 of its content, for caching and change detection
        self.files = files


def load_yaml(path: str | FsPath, cache: ParseCache | None = None) -> LoadedDescription:
    """Load `path` and everything it includes. Raise DescriptionError on bad input."""
    root = FsPath(path)
    smap = SourceMap(str(root))
    files: dict[str, str] = {}
    data = _load_file(root, str(root), (), smap, files, (), cache or ParseCache())
    if cache is not None:
        cache.save()
    return LoadedDescription(data, smap, files)


def _parse(text: str, shown: str, cache: ParseCache) -> Parsed:
    """One file's data and marks, from the cache when its content was parsed before."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    hit = cache.get(digest + shown)
    if hit is not None:
        return hit
    node = _compose(text, shown)
    if node is None:
        raise DescriptionError(
            f"description file {shown} is empty",
            hint="a description needs at least 'name', 'networks' and 'sites'",
            location=Location(shown, 1),
        )
    if not isinstance(node, yaml.MappingNode):
        raise DescriptionError(
            "a description file must be a mapping of keys (name, networks, sites, ...)",
            location=Location(shown, node.start_mark.line + 1),
        )
    local = SourceMap(shown)
    data = _walk(node, (), shown, local)
    parsed: Parsed = (data, [(p, *m) for p, m in local._marks.items()])
    cache.put(digest + shown, parsed)
    return parsed


def _load_file(
    fs_path: FsPath,
    shown: str,
    base: Path,
    smap: SourceMap,
    files: dict[str, str],
    stack: tuple[str, ...],
    cache: ParseCache,
) -> dict[str, Any]:
    text = _read(fs_path, shown)
    files[shown] = hashlib.sha256(text.encode()).hexdigest()
    data, marks = _parse(text, shown, cache)
    local = SourceMap(shown)
    for path, *mark in marks:
        local.record(path, *mark)
    includes = data.pop("include", [])
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list):
        raise DescriptionError(
            "'include' must be a list of file names or globs",
            location=local.locate(("include",)),
        )
    _merge_marks(smap, local, base, data)
    for index, pattern in enumerate(includes):
        where = local.locate(("include", index))
        if not isinstance(pattern, str):
            raise DescriptionError("an include entry must be a file name or glob", location=where)
        matches = sorted(glob.glob(str(fs_path.parent / pattern)))
        if not matches:
            raise DescriptionError(
                f"include {pattern!r} matches no file",
                hint=f"paths are relative to {shown}; check the name or remove the entry",
                location=where,
            )
        for match in matches:
            child = FsPath(match)
            child_shown = str(FsPath(shown).parent / child.relative_to(fs_path.parent))
            if child_shown in stack or child_shown == shown:
                raise DescriptionError(
                    f"{child_shown} includes itself (through {' -> '.join(stack)})",
                    location=where,
                )
            sub_map = SourceMap(child_shown)
            sub = _load_file(child, child_shown, (), sub_map, files, (*stack, shown), cache)
            _merge_into(data, sub, sub_map, smap, where)
    return data


def _merge_marks(dest: SourceMap, src: SourceMap, base: Path, data: dict[str, Any]) -> None:
    for path, mark in src._marks.items():
        dest.record((*base, *path), *mark)


def _merge_into(
    data: dict[str, Any], sub: dict[str, Any], sub_map: SourceMap, smap: SourceMap, where: Location
) -> None:
    """Append included list keys (sites) and add other keys that are not set twice."""
    for key, value in sub.items():
        if key in LIST_KEYS:
            if not isinstance(value, list):
                raise DescriptionError(
                    f"'{key}' in an included file must be a list", location=sub_map.locate((key,))
                )
            existing = data.setdefault(key, [])
            if not isinstance(existing, list):
                raise DescriptionError(f"'{key}' must be a list", location=smap.locate((key,)))
            offset = len(existing)
            existing.extend(value)
            for path, mark in sub_map._marks.items():
                if path and path[0] == key and len(path) > 1 and isinstance(path[1], int):
                    smap.record((key, path[1] + offset, *path[2:]), *mark)
        elif key in data:
            raise DescriptionError(
                f"'{key}' is set both in {smap.file_of((key,))} and in an included file",
                hint="set it in one file only",
                location=sub_map.locate((key,)),
            )
        else:
            data[key] = value
            for path, mark in sub_map._marks.items():
                if path and path[0] == key:
                    smap.record(path, *mark)
