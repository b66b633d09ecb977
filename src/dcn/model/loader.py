"""Read a deployment description (YAML, with included files) into plain data and a SourceMap.

Each file is read by `dcn.model.yamlread` (bounded, YAML 1.2 core schema, file:line of
every value); `include:` lists of files or globs are merged here. Includes are
relative to the including file and must stay inside the description's root folder
(the top file's) after symlinks are resolved, unless the operator allows more. Files,
include depth, sites and nodes are bounded (`dcn.model.limits`). The data is then
validated by the pydantic model in `description.py`.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from dcn.errors import DescriptionError, Location
from dcn.heap import collector_paused
from dcn.model.limits import MAX_FILES, MAX_INCLUDE_DEPTH, MAX_NODES, MAX_SITES
from dcn.model.parsecache import ParseCache, Parsed
from dcn.model.sourcemap import SourceMap
from dcn.model.yamlread import Budget, Walker, compose, read_text

__all__ = ["LIST_KEYS", "LoadedDescription", "ParseCache", "load_yaml"]

#: keys of included files that are concatenated rather than merged
LIST_KEYS = ("sites",)
#: environment variable that allows includes outside the description's folder
ALLOW_OUTSIDE_ENV = "DCN_ALLOW_INCLUDE_OUTSIDE"


def _read(path: FsPath, shown: str, budget: Budget) -> str:
    try:
        return read_text(path, shown, budget, DescriptionError)
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


#: what identifies a file's content without reading it: device, inode, size, mtime, ctime
StatKey = tuple[int, int, int, int, int]


def stat_key(info: os.stat_result) -> StatKey:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


@dataclass(frozen=True, slots=True)
class KnownFile:
    """A file of sites only, as an earlier load found it (the validation memo keeps it)."""

    digest: str
    #: YAML values it holds and nodes each of its sites asks for (for the limits)
    values: int
    nodes: tuple[int, ...]


#: looks up a file's shown name and stat; a KnownFile if it is unchanged since then
Known = Callable[[str, StatKey], "KnownFile | None"]


@dataclass(slots=True)
class SiteFile:
    """An included file that holds sites only: the unit the validation memo keeps."""

    shown: str
    fs_path: FsPath | str
    digest: str
    stat: StatKey
    #: index of its first site in the description (set when the load ends), how many
    #: it holds, and the YAML values it holds
    first: int
    count: int
    values: int
    #: its first site's data (or PendingSite), to find where it ended up
    head: Any = None
    #: left unread: the memo knew it unchanged
    unread: bool = False


class PendingSite:
    """A site of a file that was not read because it did not change since it was last
    validated; `LoadedDescription.resolve` reads it when something needs its data."""

    __slots__ = ("file", "nodes")

    def __init__(self, file: SiteFile, nodes: int) -> None:
        self.file = file
        self.nodes = nodes


class LoadedDescription:
    """Plain data of a description with its SourceMap and the files it was read from."""

    def __init__(
        self,
        data: dict[str, Any],
        smap: SourceMap,
        files: dict[str, str],
        site_files: list[SiteFile] | None = None,
        reread: Callable[[SiteFile], tuple[list[Any], SourceMap]] | None = None,
    ) -> None:
        #: the loaded data; items of ``sites`` may be PendingSite until resolved
        self.data = data
        self.smap = smap
        #: shown file name -> sha256 of its content, for caching and change detection
        self.files = files
        #: the files that hold sites only, in order
        self.site_files = site_files or []
        self._reread = reread

    def pending(self, index: int) -> SiteFile | None:
        """The unread file that holds site `index`, or None if its data is here."""
        sites = self.data.get("sites")
        item = sites[index] if isinstance(sites, list) and index < len(sites) else None
        return item.file if isinstance(item, PendingSite) else None

    def resolve(self, index: int) -> Any:
        """The data of site `index`, reading its file if it was left unread."""
        sites = self.data["sites"]
        item = sites[index]
        if isinstance(item, PendingSite):
            assert self._reread is not None
            unit = item.file
            items, _ = self._reread(unit)
            sites[unit.first : unit.first + unit.count] = items
            item = sites[index]
        return item

    def materialize(self) -> dict[str, Any]:
        """The data with every site read (for commands that look at the whole fleet)."""
        sites = self.data.get("sites")
        if isinstance(sites, list):
            for index in range(len(sites)):
                if isinstance(sites[index], PendingSite):
                    self.resolve(index)
        return self.data


@dataclass
class _Load:
    """One load: where includes may go, what was read, and what is left of the limits."""

    root: str
    allow_outside: bool
    cache: ParseCache
    files: dict[str, str] = field(default_factory=dict)
    budget: Budget = field(default_factory=Budget)
    #: folder -> its real path, shared by every file of the load
    real_dirs: dict[str, str] = field(default_factory=dict)
    #: files unchanged since the memo saw them (None: read every file)
    known: Known | None = None
    #: whether the memo saw a file before: if it is read now, it was edited, and its new
    #: content is in no cache (it is parsed without looking, not to read a fleet's cache)
    seen: Callable[[str], bool] | None = None
    #: the cache of the top file (small, read on every load), when not `cache`
    top_cache: ParseCache | None = None
    site_files: list[SiteFile] = field(default_factory=list)
    #: files left unread and then read after all: shown name -> their sites and map
    reread: dict[str, tuple[list[Any], SourceMap]] = field(default_factory=dict)


def load_yaml(
    path: str | FsPath,
    cache: ParseCache | None = None,
    *,
    allow_outside: bool | None = None,
    known: Known | None = None,
    seen: Callable[[str], bool] | None = None,
    top_cache: ParseCache | None = None,
) -> LoadedDescription:
    """Load `path` and everything it includes. Raise DescriptionError on bad input.

    With `known`, an included file of sites only whose stat says it is unchanged is not
    read: its sites stay PendingSite until something resolves them; with `seen`, a file
    read again because it changed is parsed without looking in `cache`. `top_cache`
    keeps the top file's parse apart from the included files' (which may be thousands).
    """
    top = FsPath(path)
    if allow_outside is None:
        allow_outside = os.environ.get(ALLOW_OUTSIDE_ENV, "") not in ("", "0")
    load = _Load(
        os.path.realpath(top.parent),
        allow_outside,
        cache or ParseCache(),
        known=known,
        seen=seen,
        top_cache=top_cache,
    )
    with collector_paused():
        data, smap = _load_file(top, str(top), load)
        _check_totals(data, smap)
        _check_export_path(data, smap, top, load)
        _place_site_files(data, load)
        for used in (cache, top_cache):
            if used is not None:
                used.save()
    reread = (lambda unit: _reread(unit, load)) if known is not None else None
    return LoadedDescription(data, smap, load.files, load.site_files, reread)


def _place_site_files(data: dict[str, Any], load: _Load) -> None:
    """Set where each file of sites starts in the merged list (its items are shared)."""
    sites = data.get("sites")
    if not load.site_files or not isinstance(sites, list):
        load.site_files.clear()
        return
    where = {id(item): k for k, item in enumerate(sites)}
    for unit in load.site_files:
        unit.first = where[id(unit.head)]
        unit.head = None


def _reread(unit: SiteFile, load: _Load) -> tuple[list[Any], SourceMap]:
    """The sites of a file left unread, and its map; the file must still be what it was."""
    done = load.reread.get(unit.shown)
    if done is not None:
        return done
    with collector_paused():
        text = _read(unit.fs_path, unit.shown, Budget())
        if hashlib.sha256(text.encode()).hexdigest() != unit.digest:
            raise DescriptionError(
                f"{unit.shown} changed while dcn was reading the description",
                hint="run the command again",
                location=Location(unit.shown),
            )
        parsed, _, local = _parse(
            text, unit.shown, _Load(load.root, load.allow_outside, load.cache)
        )
        load.cache.save()
    done = load.reread[unit.shown] = (list(parsed["sites"]), local)
    return done


def _parse(text: str, shown: str, load: _Load, cache: ParseCache | None = None) -> Parsed:
    """One file's data and marks, from `cache` (the load's, by default) when its content
    was parsed before."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    cache = cache or load.cache
    hit = cache.get(digest, shown)
    if hit is not None:
        load.budget.nodes_left -= hit[1]
        return hit
    node = compose(text, shown)
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
    data = Walker(load.budget).walk(node, shown, local)
    parsed: Parsed = (data, len(local._marks), local)
    cache.put(digest, shown, parsed)
    return parsed


def _load_file(
    fs_path: FsPath | str, shown: str, load: _Load, stack: tuple[str, ...] = ()
) -> tuple[dict[str, Any], SourceMap]:
    """A file's data with its includes merged in, and the map of where each value is."""
    if len(load.files) >= MAX_FILES:
        raise DescriptionError(
            f"the description reads more than {MAX_FILES:,} files (the file limit) at {shown}",
            hint="check the include globs; fewer, larger files hold the same sites",
            location=Location(shown),
        )
    key = None
    if load.known is not None and stack:
        key = _stat(fs_path, shown)
        found = load.known(shown, key)
        if found is not None:
            return _unread(fs_path, shown, key, found, load)
    text = _read(fs_path, shown, load.budget)
    digest = load.files[shown] = hashlib.sha256(text.encode()).hexdigest()
    parsed, values, local = _parse(text, shown, load, _cache_for(shown, load, bool(stack)))
    # the parsed data may be the cache's: change copies only (the top mapping, its lists)
    data = {k: list(v) if k in LIST_KEYS and isinstance(v, list) else v for k, v in parsed.items()}
    sites = data.get("sites")
    if key is not None and data.keys() == {"sites"} and isinstance(sites, list) and sites:
        unit = SiteFile(shown, fs_path, digest, key, -1, len(sites), values, sites[0])
        load.site_files.append(unit)
    includes = data.pop("include", [])
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list):
        raise DescriptionError(
            "'include' must be a list of file names or globs",
            location=local.locate(("include",)),
        )
    if includes and len(stack) >= MAX_INCLUDE_DEPTH:
        raise DescriptionError(
            f"includes nest deeper than {MAX_INCLUDE_DEPTH} files (the include depth limit): "
            f"{' -> '.join((*stack, shown))}",
            hint="include the files from a file nearer the top",
            location=local.locate(("include",)),
        )
    fs_path = FsPath(fs_path)
    for index, pattern in enumerate(includes):
        where = local.locate(("include", index))
        if not isinstance(pattern, str):
            raise DescriptionError("an include entry must be a file name or glob", location=where)
        base = str(fs_path.parent)
        for child in _matches(fs_path, shown, pattern, where, load):
            child_shown = _shown_name(fs_path, shown, child, base)
            if child_shown in stack or child_shown == shown:
                raise DescriptionError(
                    f"{child_shown} includes itself (through {' -> '.join(stack)})",
                    location=where,
                )
            sub, sub_map = _load_file(child, child_shown, load, (*stack, shown))
            _merge_into(data, sub, sub_map, local, where)
    return data, local


def _cache_for(shown: str, load: _Load, included: bool) -> ParseCache:
    """The top file's cache, the included files' cache, or none (an empty one) for a
    file the memo saw with other content: a one-file edit of a fleet does not read and
    rewrite the parses of its thousands of other files."""
    if not included:
        return load.top_cache or load.cache
    if load.seen is not None and load.seen(shown):
        return ParseCache()
    return load.cache


def _stat(fs_path: FsPath | str, shown: str) -> StatKey:
    try:
        return stat_key(os.stat(fs_path))
    except FileNotFoundError:
        raise DescriptionError(
            f"description file {shown} does not exist", location=Location(shown)
        ) from None
    except OSError as exc:
        raise DescriptionError(
            f"cannot read description file {shown}: {exc}", location=Location(shown)
        ) from None


def _unread(
    fs_path: FsPath | str, shown: str, key: StatKey, found: KnownFile, load: _Load
) -> tuple[dict[str, Any], SourceMap]:
    """A file of sites the memo knows unchanged: placeholders, and a map read on demand."""
    load.files[shown] = found.digest
    load.budget.bytes_left -= key[2]
    load.budget.nodes_left -= found.values
    load.cache.keep(found.digest, shown)
    unit = SiteFile(
        shown, fs_path, found.digest, key, -1, len(found.nodes), found.values, unread=True
    )
    items = [PendingSite(unit, n) for n in found.nodes]
    if items:
        unit.head = items[0]
        load.site_files.append(unit)
    return {"sites": items}, SourceMap(shown, lambda: _reread(unit, load)[1]._marks)


def _matches(fs_path: FsPath, shown: str, pattern: str, where: Location, load: _Load) -> list[str]:
    """The files `pattern` names, relative to the including file and confined to the root."""
    fix = (
        f"name files relative to {shown} inside {load.root}, or run dcn with "
        f"--allow-include-outside (or {ALLOW_OUTSIDE_ENV}=1) if you trust them"
    )
    if not load.allow_outside:
        _refuse_escape(f"include {pattern!r}", pattern, where, fix)
    matches = sorted(glob.glob(str(fs_path.parent / pattern)))
    if not matches:
        raise DescriptionError(
            f"include {pattern!r} matches no file",
            hint=f"paths are relative to {shown}; check the name or remove the entry",
            location=where,
        )
    if len(matches) + len(load.files) > MAX_FILES:
        raise DescriptionError(
            f"include {pattern!r} matches {len(matches):,} files: more than {MAX_FILES:,} "
            "files in all (the file limit)",
            hint="narrow the glob; fewer, larger files hold the same sites",
            location=where,
        )
    if not load.allow_outside:
        for real in _real_paths(matches, load.real_dirs):
            _refuse_outside(f"include {pattern!r}", real, load.root, where, fix)
    return matches


def _refuse_escape(what: str, ref: str, where: Location, fix: str) -> None:
    """`ref` names a place outside the description's folder by its very text."""
    if os.path.isabs(ref):
        raise DescriptionError(f"{what} is an absolute path", hint=fix, location=where)
    if ".." in FsPath(ref).parts:
        raise DescriptionError(f"{what} climbs out with '..'", hint=fix, location=where)


def _refuse_outside(what: str, real: str, root: str, where: Location, fix: str) -> None:
    """`real` (symbolic links resolved) is outside the description's folder `root`."""
    # both are absolute and normalised (realpath): a prefix test is commonpath's answer
    if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
        raise DescriptionError(
            f"{what} reaches {real}, outside {root} (through a symbolic link)",
            hint=fix,
            location=where,
        )


def _real_paths(paths: list[str], real_dirs: dict[str, str]) -> Iterator[str]:
    """What decides whether `paths` stay inside a folder: each folder's real path, and
    the real path of each symbolic link among them (a file that is no link is where its
    folder is). One scan per folder, not a system call per file: a fleet shares one."""
    folders: dict[str, list[str]] = {}
    for path in paths:
        folder, name = os.path.split(path)
        folders.setdefault(folder, []).append(name)
    for folder, names in folders.items():
        real_dir = real_dirs.get(folder)
        if real_dir is None:
            real_dir = real_dirs[folder] = os.path.realpath(folder or ".")
        yield real_dir
        with os.scandir(folder or ".") as entries:
            links = {e.name for e in entries if e.is_symlink()}
        for name in links.intersection(names):
            yield os.path.realpath(os.path.join(folder, name))


def _shown_name(fs_path: FsPath, shown: str, child: str, base: str) -> str:
    """How `child`, matched by an include of `shown` (whose folder is `base`), is named
    in messages: relative to the description's folder as `shown` is (string work: a
    fleet has thousands)."""
    if base == ".":
        rel: str | None = child
    elif child.startswith(base + os.sep):
        rel = child[len(base) + 1 :]
    else:
        rel = None
    if rel is not None and not os.path.isabs(rel):
        parent = os.path.dirname(shown)
        return f"{parent}{os.sep}{rel}" if parent else rel
    try:
        return str(FsPath(shown).parent / FsPath(child).relative_to(fs_path.parent))
    except ValueError:  # an absolute include, allowed outside the root
        return child


def _check_export_path(data: dict[str, Any], smap: SourceMap, top: FsPath, load: _Load) -> None:
    """control_plane_export is read as the includes are: inside the description's folder.

    An export holds the control plane's passwords; a description from elsewhere that
    names the operator's own export of another cloud (and edge nodes of its choosing)
    would otherwise have dcn deliver that cloud's credentials to those nodes.
    """
    ref = data.get("control_plane_export")
    if not isinstance(ref, str) or load.allow_outside:
        return
    where = smap.locate(("control_plane_export",))
    fix = (
        f"keep the export inside {load.root} (copy it there), or run dcn with "
        f"--allow-include-outside (or {ALLOW_OUTSIDE_ENV}=1) if you trust the description"
    )
    what = f"control_plane_export {ref!r}"
    _refuse_escape(what, ref, where, fix)
    _refuse_outside(what, os.path.realpath(top.parent / ref), load.root, where, fix)


def _check_totals(data: dict[str, Any], smap: SourceMap) -> None:
    """Refuse more sites or nodes than the limits, before anything is validated or expanded."""
    sites = data.get("sites")
    if not isinstance(sites, list):
        return
    if len(sites) > MAX_SITES:
        raise DescriptionError(
            f"the description has {len(sites):,} sites: more than {MAX_SITES:,} (the site limit)",
            hint="split the fleet into several descriptions",
            location=smap.locate(("sites", MAX_SITES)),
        )
    nodes = 0
    for index, site in enumerate(sites):
        nodes += site.nodes if isinstance(site, PendingSite) else raw_node_count(site)
        if nodes > MAX_NODES:
            raise DescriptionError(
                f"the sites up to this one have {nodes:,} nodes: more than {MAX_NODES:,} "
                "(the node limit)",
                hint="split the fleet into several descriptions",
                location=smap.locate(("sites", index, "roles")),
            )


def raw_node_count(site: Any) -> int:
    """Nodes a site's data asks for (a role's count, else its listed nodes), unvalidated."""
    nodes = 0
    roles = site.get("roles") if isinstance(site, dict) else None
    for spec in roles.values() if isinstance(roles, dict) else ():
        if not isinstance(spec, dict):
            continue
        count, listed = spec.get("count"), spec.get("nodes")
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            nodes += count
        elif isinstance(listed, list):
            nodes += len(listed)
    return nodes


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
            existing = data.get(key, [])
            if not isinstance(existing, list):
                raise DescriptionError(f"'{key}' must be a list", location=smap.locate((key,)))
            smap.include(key, len(existing), sub_map)
            existing.extend(value)  # a copy made in _load_file
            data[key] = existing
        elif key in data:
            raise DescriptionError(
                f"'{key}' is set both in {smap.file_of((key,))} and in an included file",
                hint="set it in one file only",
                location=sub_map.locate((key,)),
            )
        else:
            data[key] = value
            smap.adopt(key, sub_map)
