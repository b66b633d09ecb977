"""Validation of a loaded description: schema findings, then semantic rules.

Each finding has a stable rule id (`RULES`, documented one row each in docs/rules.md),
the file, line and field, what is wrong and a fix. The rules live in modules named
after what they check: sites, addresses, names, overrides, workload_networks, and
fleetwide for the rules across sites.

Rules look at one site at a time (with the deployment-wide settings and the control
plane, its *context*), at the deployment as a whole, or across sites on small
per-site summaries. So a site's result depends only on its own data, its place in the
list and the context: the `Memo` keeps it by those, and a one-site edit of a
5,000-site fleet parses and checks that one site. A full validation and one helped
by the memo run the same functions and give the same findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from dcn.errors import Finding, Severity
from dcn.heap import collector_paused
from dcn.model.description import Deployment, Site, parse
from dcn.model.fleet import Fleet, SiteRef
from dcn.model.loader import LoadedDescription, SiteFile, raw_node_count
from dcn.validate.addresses import address_findings
from dcn.validate.fleetwide import SiteSummary, fleetwide_findings, summarize
from dcn.validate.names import domain_findings, host_suffix, site_name_findings, string_findings
from dcn.validate.overrides import override_findings
from dcn.validate.rules import RULES
from dcn.validate.schema import schema_findings
from dcn.validate.sites import DVR_MECHANISMS, deployment_findings, site_findings
from dcn.validate.workload_networks import site_workload_findings, workload_findings

__all__ = ["DVR_MECHANISMS", "RULES", "Memo", "SiteResult", "ValidationResult", "validate"]


@dataclass
class ValidationResult:
    fleet: Fleet | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def deployment(self) -> Deployment | None:
        """Every site parsed (None if the description did not parse)."""
        return self.fleet.deployment if self.fleet is not None else None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True, slots=True)
class SiteResult:
    """What validating one site gives; the memo keeps it for the site's file."""

    #: DCN001 findings of the site (then nothing else is known of it)
    schema: tuple[Finding, ...]
    #: its own rules' findings, in the context the memo keeps them for
    findings: tuple[Finding, ...] = ()
    summary: SiteSummary | None = None
    ref: SiteRef | None = None
    #: nodes its data asks for (the loader's node limit counts them unread)
    nodes: int = 0


class Memo(Protocol):
    """Site results kept from earlier validations (`dcn.validate.memo`)."""

    def get(self, unit: SiteFile, index: int) -> tuple[str, SiteResult] | None:
        """The kept result of site `index` of `unit`, and the context of its findings
        (its schema findings, summary and ref depend on the site alone)."""

    def put(self, unit: SiteFile, index: int, context: str, result: SiteResult) -> None: ...

    def full(self, unit: SiteFile, index: int) -> SiteResult | None:
        """A kept result with its summary (`get` may leave it out)."""

    def fleetwide_clean(
        self,
        units: Sequence[SiteFile],
        context: str,
        cp_index: int | None,
        fresh: Sequence[SiteSummary],
        loose: Sequence[SiteSummary],
    ) -> bool:
        """Whether the kept fleet index proves the cross-site rules find nothing."""

    def fleet_checked(
        self,
        context: str,
        cp_index: int | None,
        summaries: Sequence[SiteSummary] | None,
        loose: Sequence[SiteSummary],
    ) -> None:
        """The cross-site rules ran on every summary (None: they found something)."""

    def context(self, frame: Deployment) -> str:
        """A digest of what site results depend on outside the site (and of dcn)."""


def validate(loaded: LoadedDescription, memo: Memo | None = None) -> ValidationResult:
    """Every finding of `loaded`, sorted by file and line; the sites if they parsed."""
    with collector_paused():
        return _validate(loaded, memo)


def _validate(loaded: LoadedDescription, memo: Memo | None) -> ValidationResult:
    data = loaded.data
    sites = data.get("sites")
    if not isinstance(sites, list):
        try:  # not a list of sites: the schema says what is wrong
            dep = parse(data)
        except ValidationError as exc:
            return ValidationResult(None, _sorted(schema_findings(loaded, exc)))
        return ValidationResult(Fleet.of(dep), [])  # pragma: no cover - sites is required
    top = {k: v for k, v in data.items() if k != "sites"}
    schema: list[Finding] = []
    try:
        frame: Deployment | None = parse({**top, "sites": []})
    except ValidationError as exc:
        frame = None
        schema.extend(schema_findings(loaded, exc))
    units = _units(loaded)
    cp_index, cp_site = _control_plane(loaded, memo, units, len(sites))
    if frame is not None and cp_site is not None:
        frame = frame.model_copy(update={"sites": [cp_site]})
    context = memo.context(frame) if memo is not None and frame is not None else None
    results: list[SiteResult] = []
    fresh: list[int] = []  # sites checked now (the others' results were kept)
    for i in range(len(sites)):
        unit = units.get(i)
        found = memo.get(unit, i) if memo is not None and unit is not None else None
        kept = found[1] if found is not None else None
        if kept is None or not (kept.schema or context is None or found[0] == context):
            parsed = cp_site if i == cp_index else None
            kept = check_site(loaded, frame, i, loaded.resolve(i), parsed)
            fresh.append(i)
            if memo is not None and unit is not None and context is not None:
                memo.put(unit, i, context, kept)
        results.append(kept)
        schema.extend(kept.schema)
    if schema or frame is None:
        return ValidationResult(None, _sorted(schema))
    refs = [r.ref for r in results if r.ref is not None]
    findings = [
        *string_findings(loaded, top, ()),
        *domain_findings(loaded, frame),
        *deployment_findings(loaded, frame, cp_index),
        *workload_findings(loaded, frame, refs),
        *(f for r in results for f in r.findings),
        *_fleetwide(loaded, memo, units, context, cp_index, results, fresh),
    ]
    return ValidationResult(_fleet(loaded, frame, refs, cp_index, cp_site), _sorted(findings))


def _fleetwide(
    loaded: LoadedDescription,
    memo: Memo | None,
    units: dict[int, SiteFile],
    context: str | None,
    cp_index: int | None,
    results: list[SiteResult],
    fresh: list[int],
) -> list[Finding]:
    """The cross-site findings: none, if the memo's fleet index proves it from the sites
    checked now; else the rules on every site's summary (read from the memo if kept)."""
    loose = [results[i].summary for i in fresh if i not in units]
    now = [results[i].summary for i in fresh]
    proven = memo is not None and context is not None
    if proven and memo.fleetwide_clean(loaded.site_files, context, cp_index, now, loose):  # type: ignore[arg-type, union-attr]
        return []
    summaries = []
    for i, result in enumerate(results):
        summary = result.summary
        if summary is None and memo is not None:
            full = memo.full(units[i], i)
            summary = full.summary if full is not None else None
        if summary is None:
            raise AssertionError(f"site {i} was validated without its summary")
        summaries.append(summary)
    found = fleetwide_findings(loaded, summaries)
    if memo is not None and context is not None:
        memo.fleet_checked(context, cp_index, None if found else summaries, loose)  # type: ignore[arg-type]
    return found


def check_site(
    loaded: LoadedDescription, frame: Deployment | None, i: int, raw: Any, parsed: Site | None
) -> SiteResult:
    """Site `i` on its own: its schema, then (given the context `frame`) its rules."""
    nodes = raw_node_count(raw)
    try:
        site = parsed if parsed is not None else Site.model_validate(raw)
    except ValidationError as exc:
        return SiteResult(tuple(schema_findings(loaded, exc, ("sites", i))), nodes=nodes)
    if frame is None:
        return SiteResult((), nodes=nodes)
    findings = (
        *string_findings(loaded, raw, ("sites", i)),
        *site_findings(loaded, i, site),
        *site_name_findings(loaded, i, site, host_suffix(frame)),
        *address_findings(loaded, frame, i, site),
        *override_findings(loaded, i, site),
        *site_workload_findings(loaded, frame, i, site),
    )
    summary = summarize(i, site)
    return SiteResult((), findings, summary, SiteRef.of(site), nodes)


def _units(loaded: LoadedDescription) -> dict[int, SiteFile]:
    """Site index -> the file of sites only that holds it (the memo keeps those)."""
    return {i: u for u in loaded.site_files for i in range(u.first, u.first + u.count)}


def _control_plane(
    loaded: LoadedDescription, memo: Memo | None, units: dict[int, SiteFile], count: int
) -> tuple[int | None, Site | None]:
    """The first control-plane site: its index, and the site if it parses."""
    for i in range(count):
        unit = units.get(i)
        found = memo.get(unit, i) if memo is not None and unit is not None else None
        kept = found[1] if found is not None else None
        if kept is not None and kept.ref is not None:
            if kept.ref.control_plane:
                return i, _parsed(loaded.resolve(i))
            continue
        raw = loaded.resolve(i) if kept is None else None
        if isinstance(raw, dict) and raw.get("kind") == "control-plane":
            return i, _parsed(raw)
    return None, None


def _parsed(raw: Any) -> Site | None:
    try:
        return Site.model_validate(raw)
    except ValidationError:
        return None


def _fleet(
    loaded: LoadedDescription,
    frame: Deployment,
    refs: Sequence[SiteRef],
    cp_index: int | None,
    cp_site: Site | None,
) -> Fleet:
    """The valid description's sites, each parsed from the loaded data when asked for."""

    def parse_site(i: int) -> Site:
        if i == cp_index and cp_site is not None:
            return cp_site
        return Site.model_validate(loaded.resolve(i))

    def parse_all() -> Deployment:
        with collector_paused():
            return frame.model_copy(update={"sites": [parse_site(i) for i in range(len(refs))]})

    return Fleet(frame, refs, parse_site, parse_all)


def _sorted(findings: list[Finding]) -> list[Finding]:
    findings.sort(key=lambda f: (f.location.file, f.location.line or 0))
    return findings
