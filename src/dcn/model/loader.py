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


class LoadedDescription:
    """Plain data of a description with its SourceMap and the files it was read from."""

    def __init__(self, data: dict[str, Any], smap: SourceMap, files: dict[str, str]) -> None:
        self.data = data
        self.smap = smap
        #: shown file name -> sha256 of its content, for caching and change detection
        self.files = files


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


def load_yaml(
    path: str | FsPath, cache: ParseCache | None = None, *, allow_outside: bool | None = None
) -> LoadedDescription:
    """Load `path` and everything it includes. Raise DescriptionError on bad input."""
    top = FsPath(path)
    if allow_outside is None:
        allow_outside = os.environ.get(ALLOW_OUTSIDE_ENV, "") not in ("", "0")
    load = _Load(os.path.realpath(top.parent), allow_outside, cache or ParseCache())
    with collector_paused():
        data, smap = _load_file(top, str(top), load)
        _check_totals(data, smap)
        _check_export_path(data, smap, top, load)
        if cache is not None:
            cache.save()
    return LoadedDescription(data, smap, load.files)


def _parse(text: str, shown: str, load: _Load) -> Parsed:
    """One file's data and marks, from the cache when its content was parsed before."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    hit = load.cache.get(digest, shown)
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
    load.cache.put(digest, shown, parsed)
    return parsed


def _load_file(
    fs_path: FsPath, shown: str, load: _Load, stack: tuple[str, ...] = ()
) -> tuple[dict[str, Any], SourceMap]:
    """A file's data with its includes merged in, and the map of where each value is."""
    if len(load.files) >= MAX_FILES:
        raise DescriptionError(
            f"the description reads more than {MAX_FILES:,} files (the file limit) at {shown}",
            hint="check the include globs; fewer, larger files hold the same sites",
            location=Location(shown),
        )
    text = _read(fs_path, shown, load.budget)
    load.files[shown] = hashlib.sha256(text.encode()).hexdigest()
    parsed, _, local = _parse(text, shown, load)
    # the parsed data may be the cache's: change copies only (the top mapping, its lists)
    data = {k: list(v) if k in LIST_KEYS and isinstance(v, list) else v for k, v in parsed.items()}
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
    for index, pattern in enumerate(includes):
        where = local.locate(("include", index))
        if not isinstance(pattern, str):
            raise DescriptionError("an include entry must be a file name or glob", location=where)
        for child in _matches(fs_path, shown, pattern, where, load):
            child_shown = _shown_name(fs_path, shown, child)
            if child_shown in stack or child_shown == shown:
                raise DescriptionError(
                    f"{child_shown} includes itself (through {' -> '.join(stack)})",
                    location=where,
                )
            sub, sub_map = _load_file(child, child_shown, load, (*stack, shown))
            _merge_into(data, sub, sub_map, local, where)
    return data, local


def _matches(
    fs_path: FsPath, shown: str, pattern: str, where: Location, load: _Load
) -> list[FsPath]:
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
    out = [FsPath(m) for m in matches]
    if not load.allow_outside:
        for match in out:
            real = _realpath(str(match), load.real_dirs)
            _refuse_outside(f"include {pattern!r}", real, load.root, where, fix)
    return out


def _refuse_escape(what: str, ref: str, where: Location, fix: str) -> None:
    """`ref` names a place outside the description's folder by its very text."""
    if os.path.isabs(ref):
        raise DescriptionError(f"{what} is an absolute path", hint=fix, location=where)
    if ".." in FsPath(ref).parts:
        raise DescriptionError(f"{what} climbs out with '..'", hint=fix, location=where)


def _refuse_outside(what: str, real: str, root: str, where: Location, fix: str) -> None:
    """`real` (symbolic links resolved) is outside the description's folder `root`."""
    if os.path.commonpath([real, root]) != root:
        raise DescriptionError(
            f"{what} reaches {real}, outside {root} (through a symbolic link)",
            hint=fix,
            location=where,
        )


def _realpath(path: str, real_dirs: dict[str, str]) -> str:
    """`os.path.realpath`, resolving each directory once: 1,000 sites share one folder."""
    if os.path.islink(path):
        return os.path.realpath(path)
    folder, name = os.path.split(path)
    real_dir = real_dirs.get(folder)
    if real_dir is None:
        real_dir = real_dirs[folder] = os.path.realpath(folder or ".")
    return os.path.join(real_dir, name)


def _shown_name(fs_path: FsPath, shown: str, child: FsPath) -> str:
    try:
        return str(FsPath(shown).parent / child.relative_to(fs_path.parent))
    except ValueError:  # an absolute include, allowed outside the root
        return str(child)


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
        roles = site.get("roles") if isinstance(site, dict) else None
        for spec in roles.values() if isinstance(roles, dict) else ():
            if not isinstance(spec, dict):
                continue
            count, listed = spec.get("count"), spec.get("nodes")
            if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                nodes += count
            elif isinstance(listed, list):
                nodes += len(listed)
        if nodes > MAX_NODES:
            raise DescriptionError(
                f"the sites up to this one have {nodes:,} nodes: more than {MAX_NODES:,} "
                "(the node limit)",
                hint="split the fleet into several descriptions",
                location=smap.locate(("sites", index, "roles")),
            )


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
