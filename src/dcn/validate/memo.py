"""Site results of earlier validations, so an edit of one site file re-checks one site.

Kept in the state directory beside the parse cache, under the same rules (it may have
come with someone else's folder): plain text lines, a MAC under this user's key, dcn's
version and a digest of dcn's code in the header; anything unsound is dropped and the
site is checked again.

One line per file that holds sites only: its content digest and stat (device, inode,
size, modification and change times), and for each of its sites the result of
`dcn.validate.check_site` (schema findings, the site's own findings with the context
they were found in, its summary) plus, as plain text, what planning needs of it (name,
digest of its settings, leaves). The loader does not read a file whose stat is
unchanged, as git trusts its index: only when the file's times are older than the
load that recorded them, so an edit in the same clock tick as that load is not missed.

A site of an unchanged file with no findings is not even decoded: its plain-text ref
is enough, and when the last validation found nothing across sites, the kept
`FleetIndex` proves the same of this one from the changed sites alone.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import dcn
from dcn.errors import Finding, Location
from dcn.model.description import Deployment
from dcn.model.fleet import SiteRef
from dcn.model.loader import KnownFile, SiteFile, StatKey
from dcn.model.parsecache import read_signed, user_key, write_signed
from dcn.validate import SiteResult
from dcn.validate.fleetindex import FleetIndex
from dcn.validate.fleetwide import SiteSummary
from dcn.validate.rules import finding_at

FORMAT = 3
FILE = "validation-memo.json"
#: a file changed this close to the load that recorded its stat is read again
RACY_NS = 100_000_000
#: contexts kept before the memo is written afresh (each edit of the settings adds one)
MAX_CONTEXTS = 16
#: sites outside files of sites only (the top file's) the fleet index keeps summaries of
MAX_LOOSE_SITES = 64


def _code_digest() -> str:
    """Digest of dcn's code: results of another version's rules are not reused."""
    root = FsPath(dcn.__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix != ".pyc":
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


@dataclass
class _FileEntry:
    """One file's line as read; its sites' entries stay JSON text until asked for."""

    digest: str
    stat: str
    values: int
    first: int
    #: the context its sites' findings were found in
    context: str
    refs: list[str]
    #: some site of the file has findings (its entries must be read to report them)
    findings: bool
    raw: str
    decoded: list[Any] | None = None


@dataclass
class _Fleet:
    """The kept fleet index: valid for the lines it was written with."""

    context: str
    cp_index: int | None
    #: summaries of sites outside files of sites only, by index (JSON text)
    loose: str
    index: FleetIndex


class ValidationMemo:
    """Kept site results by file, content digest and place in the description."""

    def __init__(self, state_dir: FsPath | None) -> None:
        self.path = state_dir / FILE if state_dir is not None else None
        self._key = user_key() if state_dir is not None else None
        self._code = _code_digest()
        #: when this load began: stats taken from now on are recorded with it
        self._started = time.time_ns()
        self._recorded = 0
        #: context digests of the kept entries (an entry holds an index into this list)
        self._contexts: list[str] = []
        #: shown name -> its file's line as read
        self._files: dict[str, _FileEntry] = {}
        self._fleet: _Fleet | None = None
        #: (shown, index) -> (context, result) of this load (kept or new)
        self._results: dict[tuple[str, int], tuple[str, SiteResult]] = {}
        #: files whose sites were checked again (their lines are written anew)
        self._changed: set[str] = set()
        #: the fleet index to keep, when this validation found nothing across sites
        self._next_fleet: _Fleet | None = None
        if self._key is not None and self.path is not None:
            self._read(self.path)

    # -- reading ------------------------------------------------------------------------

    def _read(self, path: FsPath) -> None:
        body = read_signed(path, self._key)
        if body is None:
            return
        try:
            header, *lines = body.decode().split("\n")
            doc = json.loads(header)
        except (ValueError, RecursionError):
            return
        if not isinstance(doc, dict) or {k: doc.get(k) for k in ("format", "dcn", "code")} != {
            "format": FORMAT,
            "dcn": dcn.__version__,
            "code": self._code,
        }:
            return
        recorded, contexts = doc.get("started"), doc.get("contexts")
        if type(recorded) is not int or type(contexts) is not list:
            return
        self._recorded = recorded
        self._contexts = [c if type(c) is str else "" for c in contexts]
        for line in lines:
            if line.startswith("A\t"):
                self._fleet = _read_fleet(line, self._contexts)
                continue
            parts = line.split("\t")
            if len(parts) != 9 or not all(parts[k].isdigit() for k in (3, 4, 5)):
                continue
            if int(parts[5]) >= len(self._contexts):
                continue
            shown = _read_name(parts[0])
            if shown is not None:
                self._files[shown] = _FileEntry(
                    parts[1],
                    parts[2],
                    int(parts[3]),
                    int(parts[4]),
                    self._contexts[int(parts[5])],
                    parts[6].split(";"),
                    parts[7] == "1",
                    parts[8],
                )

    def _entries(self, shown: str, entry: _FileEntry) -> list[Any] | None:
        """The decoded site entries of a file's line (None, and the line dropped, if
        they do not decode to one entry per site)."""
        if entry.decoded is None:
            try:
                decoded = json.loads(entry.raw)
            except (ValueError, RecursionError):
                decoded = None
            if type(decoded) is not list or len(decoded) != len(entry.refs):
                self._files.pop(shown, None)
                return None
            entry.decoded = decoded
        return entry.decoded

    def known(self, shown: str, key: StatKey) -> KnownFile | None:
        """The file `shown` as recorded, if its stat says it is unchanged since then."""
        entry = self._files.get(shown)
        if entry is None or entry.stat != _stat_text(key):
            return None
        if max(key[3], key[4]) >= self._recorded - RACY_NS:
            return None  # changed around the time it was recorded: read it again
        nodes = []
        for ref in entry.refs:
            fields = ref.split(",")
            if len(fields) != 6 or not fields[4].isdigit():
                return None
            nodes.append(int(fields[4]))
        return KnownFile(entry.digest, entry.values, tuple(nodes))

    def seen(self, shown: str) -> bool:
        """Whether the memo kept file `shown` (read now, it changed since)."""
        return shown in self._files

    def context(self, frame: Deployment) -> str:
        text = json.dumps(frame.model_dump(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def _entry_of(self, unit: SiteFile) -> _FileEntry | None:
        """The kept line of `unit` if its content is the same (its sites may stand at
        other places now: a site added or removed before them moves them)."""
        entry = self._files.get(unit.shown)
        if entry is None or entry.digest != unit.digest or len(entry.refs) != unit.count:
            return None
        return entry

    def get(self, unit: SiteFile, index: int) -> tuple[str, SiteResult] | None:
        """The kept result of site `index`; without its summary when the file has no
        findings (`full` reads it then)."""
        key = (unit.shown, index)
        found = self._results.get(key)
        if found is not None:
            return found
        entry = self._entry_of(unit)
        if entry is None:
            return None
        try:
            if entry.findings:
                found = self._full(unit, entry, index)
            else:
                found = _light(entry.refs[index - unit.first], entry.context)
        except (ValueError, TypeError, KeyError, IndexError, RecursionError):
            found = None
        if found is None:
            self._files.pop(unit.shown, None)
            return None
        self._results[key] = found
        return found

    def full(self, unit: SiteFile, index: int) -> SiteResult | None:
        """Site `index`'s kept result with its summary."""
        found = self._results.get((unit.shown, index))
        if found is not None and found[1].summary is not None:
            return found[1]
        entry = self._entry_of(unit)
        try:
            full = self._full(unit, entry, index) if entry is not None else None
        except (ValueError, TypeError, KeyError, IndexError, RecursionError):
            full = None
        if full is None:
            return None
        self._results[(unit.shown, index)] = full
        return full[1]

    def _full(self, unit: SiteFile, entry: _FileEntry, index: int) -> tuple[str, SiteResult] | None:
        entries = self._entries(unit.shown, entry)
        if entries is None:
            return None
        schema, findings, summary = entries[index - unit.first]
        moved = (entry.first + index - unit.first, index)
        result = SiteResult(
            tuple(_finding(f, moved) for f in schema), tuple(_finding(f, moved) for f in findings)
        )
        if summary is not None:
            light = _light(entry.refs[index - unit.first], entry.context)
            if light is None:
                return None
            found = SiteSummary.from_json(index, summary)
            result = SiteResult(result.schema, result.findings, found, light[1].ref, light[1].nodes)
        return entry.context, result

    def put(self, unit: SiteFile, index: int, context: str, result: SiteResult) -> None:
        self._results[(unit.shown, index)] = (context, result)
        self._changed.add(unit.shown)

    # -- the fleet index ---------------------------------------------------------------

    def fleetwide_clean(
        self,
        units: Sequence[SiteFile],
        context: str,
        cp_index: int | None,
        fresh: Sequence[SiteSummary],
        loose: Sequence[SiteSummary],
    ) -> bool:
        """Whether the kept fleet index proves the cross-site rules find nothing.

        `fresh` are the summaries checked in this validation (of changed files and of
        `loose` sites, outside files of sites only); every other site is as kept.
        """
        kept = self._fleet
        if kept is None or kept.context != context or kept.cp_index != cp_index:
            return False
        index = FleetIndex(kept.index.hashes, kept.index.leaves4, kept.index.leaves6)
        current = {u.shown: u for u in units}
        try:
            gone = [SiteSummary.from_json(i, raw) for i, raw in json.loads(kept.loose)]
            for shown, entry in list(self._files.items()):
                unit = current.get(shown)
                if unit is not None and shown not in self._changed and self._entry_of(unit):
                    continue  # unchanged: what it put in is still there
                entries = self._entries(shown, entry)
                if entries is None:
                    return False
                for k, (_, _, summary) in enumerate(entries):
                    if summary is None:
                        return False
                    gone.append(SiteSummary.from_json(entry.first + k, summary))
        except (ValueError, TypeError, KeyError, RecursionError):
            return False
        for summary in gone:
            if not index.remove(summary):
                return False
        for summary in fresh:
            if summary.control_plane and summary.index != cp_index:
                return False
            if not index.add(summary):
                return False
        self._next_fleet = _Fleet(context, cp_index, _loose(loose), index)
        return True

    def fleet_checked(
        self,
        context: str,
        cp_index: int | None,
        summaries: Sequence[SiteSummary] | None,
        loose: Sequence[SiteSummary],
    ) -> None:
        """Keep the fleet index of a validation that ran the cross-site rules on every
        summary (None: they found something, so no index is kept)."""
        if summaries is None or len(loose) > MAX_LOOSE_SITES:
            self._next_fleet = None
            return
        self._next_fleet = _Fleet(context, cp_index, _loose(loose), FleetIndex.of(summaries))

    # -- writing ------------------------------------------------------------------------

    def save(self, site_files: list[SiteFile]) -> None:
        """Keep the results of this load's files (others are dropped) and the fleet index."""
        if self.path is None or self._key is None:
            return
        if (
            not self._changed
            and all(u.unread for u in site_files)
            and {u.shown for u in site_files} == self._files.keys()
            and self._next_fleet == self._fleet
        ):
            return  # nothing new to keep: every file was known and every result reused
        # kept lines refer to contexts by index; a long list of old ones starts afresh
        fresh = len(self._contexts) > MAX_CONTEXTS
        contexts = {} if fresh else {c: i for i, c in enumerate(self._contexts)}
        lines = []
        written = 0
        encode = json.JSONEncoder(separators=(",", ":")).encode
        for unit in site_files:
            span = range(unit.first, unit.first + unit.count)
            kept = [self._results.get((unit.shown, i)) for i in span]
            entry = self._files.get(unit.shown)
            same = (
                not fresh
                and unit.shown not in self._changed
                and entry is not None
                and self._entry_of(unit) is entry
            )
            if same and entry is not None:
                ctx = contexts.setdefault(entry.context, len(contexts))
                refs, flag, raw = entry.refs, entry.findings, entry.raw  # as read
                if entry.first != unit.first and entry.findings:
                    raw = encode(_moved(self._entries(unit.shown, entry) or [], entry, unit))
            elif all(k is not None and (k[1].summary or k[1].schema) for k in kept):
                results = [k for k in kept if k is not None]
                checked = [c for c, r in results if not r.schema]
                ctx = contexts.setdefault(checked[0] if checked else "", len(contexts))
                refs = [_ref_text(r) for _, r in results]
                flag = any(r.schema or r.findings for _, r in results)
                raw = encode([_entry(r) for _, r in results])
            else:
                continue  # not every site was checked: read the file next time
            written += 1
            lines.append(
                f"{_name_text(unit.shown)}\t{unit.digest}\t{_stat_text(unit.stat)}\t"
                f"{unit.values}\t{unit.first}\t{ctx}\t{';'.join(refs)}\t{int(flag)}\t{raw}"
            )
        fleet = self._next_fleet
        if fleet is not None and written == len(site_files):
            ctx = contexts.setdefault(fleet.context, len(contexts))
            lines.append(
                f"A\t{ctx}\t{'' if fleet.cp_index is None else fleet.cp_index}\t"
                f"{fleet.loose}\t{fleet.index.to_text()}"
            )
        header = {"format": FORMAT, "dcn": dcn.__version__, "code": self._code}
        doc = {**header, "started": self._started, "contexts": list(contexts)}
        write_signed(self.path, self._key, "\n".join([json.dumps(doc), *lines]).encode())


def _read_fleet(line: str, contexts: list[str]) -> _Fleet | None:
    """The fleet index line: context (an index into the header's list), control plane,
    loose summaries, the index."""
    parts = line.split("\t")
    if len(parts) != 5 or not parts[1].isdigit() or not (parts[2] == "" or parts[2].isdigit()):
        return None
    index = FleetIndex.from_text(parts[4])
    if index is None or int(parts[1]) >= len(contexts):
        return None
    cp = int(parts[2]) if parts[2] else None
    return _Fleet(contexts[int(parts[1])], cp, parts[3], index)


def _loose(summaries: Sequence[SiteSummary]) -> str:
    return json.dumps([(s.index, s.to_json()) for s in summaries], separators=(",", ":"))


def _name_text(shown: str) -> str:
    """A file name in a line: as it is after '>' when it is printable without a tab or
    backslash (the usual case, read without a JSON decoder), else as JSON."""
    if shown.isprintable() and "\t" not in shown and "\\" not in shown:
        return ">" + shown
    return json.dumps(shown)


def _read_name(text: str) -> str | None:
    if text.startswith(">"):
        return text[1:]
    try:
        shown = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return shown if type(shown) is str else None


def _stat_text(key: StatKey) -> str:
    return " ".join(map(str, key))


def _ref_text(result: SiteResult) -> str:
    """What planning needs of a site, as plain text: names, digests and CIDRs hold no
    ',', ';', '|', '=' or tab (the schema allows none there). '-' for a site with
    schema findings."""
    ref = result.ref
    if ref is None:
        return f"-,0,-,0,{result.nodes},"
    leaves = "|".join(f"{net}={cidr}" for net, cidr in ref.leaves)
    flags = f"{int(ref.control_plane)},{ref.digest},{int(ref.overrides)}"
    return f"{ref.name},{flags},{result.nodes},{leaves}"


def _light(text: str, context: str) -> tuple[str, SiteResult] | None:
    """A site with no findings from its plain-text ref: no summary (see `full`)."""
    name, cp, digest, overrides, nodes, leaves = text.split(",")
    if name == "-" or not nodes.isdigit():
        return None
    pairs = tuple(tuple(p.split("=", 1)) for p in leaves.split("|")) if leaves else ()
    if any(len(p) != 2 for p in pairs):
        return None
    ref = SiteRef(name, cp == "1", digest, pairs, overrides == "1")  # type: ignore[arg-type]
    return context, SiteResult((), (), None, ref, int(nodes))


def _entry(result: SiteResult) -> list[Any]:
    return [
        [_finding_json(f) for f in result.schema],
        [_finding_json(f) for f in result.findings],
        result.summary.to_json() if result.summary is not None else None,
    ]


def _finding_json(f: Finding) -> list[Any]:
    at = f.location
    return [f.rule, f.message, f.fix, at.file, at.line, at.column, at.field]


def _finding(raw: list[Any], moved: tuple[int, int] = (0, 0)) -> Finding:
    """A kept finding; `moved` (old, new): its site's index then and now."""
    rule, message, fix, file, line, column, field = raw
    if not all(type(v) is str for v in (rule, message, fix, file, field)):
        raise ValueError("memo finding of the wrong type")
    return finding_at(rule, Location(file, line, column, _at(field, *moved)), message, fix)


def _at(field: str, old: int, new: int) -> str:
    """A finding's field path of site `old`, for the same site now at index `new`."""
    prefix = f"sites[{old}]"
    if old == new or not field.startswith(prefix):
        return field
    return f"sites[{new}]{field[len(prefix) :]}"


def _moved(entries: list[Any], entry: _FileEntry, unit: SiteFile) -> list[Any]:
    """A file's kept entries with their findings' places moved to its sites' new indices."""
    out = []
    for k, (schema, findings, summary) in enumerate(entries):
        old, new = entry.first + k, unit.first + k
        out.append(
            [
                [[*f[:6], _at(f[6], old, new)] for f in schema],
                [[*f[:6], _at(f[6], old, new)] for f in findings],
                summary,
            ]
        )
    return out
