"""The library's front door: a description file plus its state, and the operations on them.

The CLI only parses flags and calls these; tests and other tools can do the same.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from dcn.errors import DcnError, DescriptionError
from dcn.export import build_export, read_export, write_export
from dcn.model.description import Deployment
from dcn.model.fleet import Fleet
from dcn.model.loader import LoadedDescription, ParseCache, load_yaml
from dcn.nextsteps import SiteNext, StaleEdges, StaleExport, deploy_command, needs_deploy
from dcn.plan.engine import ControlPlaneSource, Planner, SitePlanResult
from dcn.plan.overrides import unused_overrides
from dcn.plan.serialize import plan_from_json
from dcn.plan.types import ExportVersion, StackPlan
from dcn.services.catalog import ALL_TRIPLEO_STYLE, generate, node_services, secrets_for
from dcn.state.keyfile import default_key_path
from dcn.state.records import GenerationStatus
from dcn.state.store import Store
from dcn.validate import ValidationResult, validate
from dcn.validate.memo import ValidationMemo

DEFAULT_FILE = "dcn.yaml"


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    version: ExportVersion
    scope: str
    for_site: str | None
    secret_names: tuple[str, ...]


class Workspace:
    """One deployment description and where its state lives."""

    def __init__(
        self,
        file: str | Path | None = None,
        state_dir: str | Path | None = None,
        state_url: str | None = None,
        *,
        allow_include_outside: bool | None = None,
    ) -> None:
        self.file = Path(file or os.environ.get("DCN_FILE") or DEFAULT_FILE)
        #: includes may leave the description's folder (None: DCN_ALLOW_INCLUDE_OUTSIDE)
        self.allow_include_outside = allow_include_outside
        env_dir = os.environ.get("DCN_STATE_DIR")
        self.state_dir = Path(state_dir or env_dir or self.file.parent / ".dcn")
        self.state_url = state_url or os.environ.get("DCN_STATE_URL") or None
        #: things the operator should know that are not errors (shown after a command)
        self.notices: list[str] = []

    def reread(self) -> Workspace:
        """The same description and state, read again from disk, sharing the open store:
        a long-running reader (`dcn serve`) sees edits without reopening the database."""
        fresh = Workspace(
            self.file,
            self.state_dir,
            self.state_url,
            allow_include_outside=self.allow_include_outside,
        )
        if "store" in self.__dict__:
            fresh.__dict__["store"] = self.store
        return fresh

    @cached_property
    def _memo(self) -> ValidationMemo | None:
        """Site results of earlier runs (kept in a state dir, not in a database)."""
        return None if self.state_url else ValidationMemo(self.state_dir)

    @cached_property
    def loaded(self) -> LoadedDescription:
        memo = self._memo
        if memo is None:  # no state dir: nothing cached
            return load_yaml(self.file, allow_outside=self.allow_include_outside)
        return load_yaml(
            self.file,
            ParseCache(self.state_dir / "parse-cache.json"),
            allow_outside=self.allow_include_outside,
            known=memo.known,
            seen=memo.seen,
            top_cache=ParseCache(self.state_dir / "parse-cache-top.json"),
        )

    @cached_property
    def validation(self) -> ValidationResult:
        result = validate(self.loaded, self._memo)
        if self._memo is not None:
            self._memo.save(self.loaded.site_files)
        return result

    @cached_property
    def fleet(self) -> Fleet:
        """The validated description's sites; raises with every error if it is not valid."""
        result = self.validation
        if not result.ok or result.fleet is None:
            count = len(result.errors)
            raise DescriptionError(
                f"{self.file} has {count} error{'s' * (count != 1)}",
                hint=f"run 'dcn -f {self.file} validate' to see them all",
                findings=list(result.errors),
            )
        return result.fleet

    @property
    def deployment(self) -> Deployment:
        """The validated description with every site parsed."""
        return self.fleet.deployment

    @cached_property
    def store(self) -> Store:
        return Store.open(
            state_dir=None if self.state_url else self.state_dir,
            url=self.state_url,
            key_file=default_key_path(self.state_dir),  # beside the state dir, also for a URL
        )

    def control_plane_source(self) -> ControlPlaneSource | None:
        """The imported export, when the control plane was deployed by something else."""
        ref = self.fleet.frame.control_plane_export
        if ref is None:
            return None
        path = (self.file.parent / ref) if not Path(ref).is_absolute() else Path(ref)
        imported = read_export([path])
        for warning in imported.warnings:
            if warning not in self.notices:
                self.notices.append(warning)
        if imported.version is not None:
            self._note_older_import(path, imported.version)
        version = imported.version or ExportVersion("external", 0, imported.outputs.digest())
        self.store.ensure_secrets(self.fleet.name, [], generate)
        self.store.import_secrets(self.fleet.name, imported.secrets)
        return ControlPlaneSource(imported.outputs, version)

    def _note_older_import(self, path: Path, version: ExportVersion) -> None:
        """A notice when this state store deployed the exported control plane again since
        the file was written (only when the same store manages both)."""
        known = self.store.deployed_generations(self.fleet.name).get(version.stack)
        if (
            known is None
            or known.outputs_digest in (None, version.digest)
            or known.number <= version.generation
        ):
            return
        notice = (
            f"the export {path} holds {version.stack} generation {version.generation}, "
            f"but {version.stack} generation {known.number} (other outputs) is deployed "
            f"since: refresh it with 'dcn export {version.stack} -o {shlex.quote(str(path))} "
            f"--force' from the control plane's description, then 'dcn plan'"
        )
        if notice not in self.notices:
            self.notices.append(notice)

    def stale_edges(self) -> StaleEdges | None:
        """Edges of the description whose deployed generation consumed other outputs than
        the control plane's deployed generation (None: every deployed edge is current)."""
        dep = self.deployment
        cp = dep.control_plane
        if cp is None or dep.control_plane_export is not None:
            return None
        deployed = self.store.deployed_generations(dep.name)
        current = deployed.get(cp.name)
        if current is None or current.outputs_digest is None:
            return None
        consumed = {}
        for edge in dep.edges:
            rec = deployed.get(edge.name)
            used = rec.consumed_export if rec else None
            if used and used.stack == cp.name and used.digest != current.outputs_digest:
                consumed[edge.name] = used.generation
        return StaleEdges(cp.name, current.number, consumed) if consumed else None

    def next_steps(self) -> dict[str, SiteNext]:
        """Per site of the description: the command that converges it, and why."""
        dep = self.deployment
        latest = {r.site: r for r in self.store.status_rows(dep.name)}
        deployed = self.store.deployed_generations(dep.name)
        marks = self.store.redeploy_marks(dep.name)
        cp = dep.control_plane if dep.control_plane_export is None else None
        cp_deployed = deployed.get(cp.name) if cp else None
        cp_latest = latest.get(cp.name) if cp else None
        # an edge is deployed only against a deployed control plane's newest plan
        cp_pending = cp is not None and (
            cp_latest is None or cp_latest.status is not GenerationStatus.DEPLOYED
        )
        steps = {}
        for site in dep.sites:
            is_edge = not site.is_control_plane
            reason, behind = needs_deploy(
                latest.get(site.name),
                deployed.get(site.name),
                marks.get(site.name),
                cp_deployed if is_edge else None,
            )
            if not reason:
                steps[site.name] = SiteNext(site.name)
                continue
            sites = [site.name]
            if is_edge and cp is not None and cp_pending:
                sites = [cp.name, site.name]
                reason += f"; {cp.name}'s newest generation is not deployed: it goes first"
            steps[site.name] = SiteNext(
                site.name, deploy_command(sites), reason, behind, tuple(sites)
            )
        return steps

    def stale_exports(self) -> list[StaleExport]:
        """Export files (still there) written from older outputs than the control plane's
        deployed generation publishes."""
        dep = self.deployment
        cp = dep.control_plane
        if cp is None:
            return []
        current = self.store.deployed_generations(dep.name).get(cp.name)
        if current is None or current.outputs_digest is None:
            return []
        found = []
        for rec in self.store.exports(dep.name, cp.name):
            if rec.digest == current.outputs_digest or rec.generation >= current.number:
                continue
            path = Path(rec.path)
            if not (path.exists() or (self.file.parent / path).exists()):
                continue  # removed since: nothing reads it any more
            scope = " --all-secrets" if rec.scope == "full" else ""
            command = f"dcn export {cp.name} -o {shlex.quote(rec.path)} --force{scope}"
            found.append(StaleExport(cp.name, rec.path, rec.generation, current.number, command))
        return found

    def recorded_plans(self) -> dict[str, StackPlan]:
        """The newest recorded plan of every stack (what was planned or deployed last)."""
        return {
            name: plan_from_json(record.plan_json())
            for name, record in self.store.latest_generations(self.fleet.name).items()
        }

    def planner(self) -> Planner:
        return Planner(self.fleet, self.store, self.control_plane_source())

    def plan(self, sites: Sequence[str] | None = None, record: bool = True) -> list[SitePlanResult]:
        """Plan sites; recording holds the deployment's lock so two runs never interleave."""
        if not record:
            results = self.planner().plan(sites, record=False)
        else:
            with self.store.lock(self.fleet.name, "dcn plan"):
                results = self.planner().plan(sites, record=True)
        self._note_unused_overrides(results)
        return results

    def _note_unused_overrides(self, results: Sequence[SitePlanResult]) -> None:
        """A notice, at its file and line, for each override no node of its site renders."""
        for r in results:
            ref = self.fleet.ref(r.site)
            if ref is None or not ref.overrides:
                continue  # the usual case: neither the site nor its plan body is read
            site, index = self.fleet.site(r.site), self.fleet.index(r.site)
            for name in unused_overrides(site, r.plan):
                where = self.loaded.smap.locate(("sites", index, "config_overrides", name))
                notice = (
                    f"{where}: config_overrides for {name} are not used: "
                    f"no service of site {site.name} renders {name}"
                )
                if notice not in self.notices:
                    self.notices.append(notice)

    def site_secret_names(self, site: str) -> tuple[str, ...]:
        """Secrets one site's stack receives: what its roles' services reference."""
        found = self.deployment.site(site)
        if found is None:
            names = ", ".join(s.name for s in self.deployment.sites)
            raise DcnError(f"no site named {site}", hint=f"sites: {names}")
        return secrets_for({svc for role in found.roles for svc in node_services(role, found)})

    def edge_secret_names(self, site: str | None) -> tuple[str, ...]:
        """Secrets an edge site needs (one site, or every edge of the description)."""
        edges = self.deployment.edges
        if site is not None:
            if site not in {s.name for s in edges}:
                names = ", ".join(s.name for s in edges) or "none"
                raise DcnError(f"{site} is not an edge site", hint=f"edge sites: {names}")
            return self.site_secret_names(site)
        return tuple(sorted({n for s in edges for n in self.site_secret_names(s.name)}))

    def export(
        self,
        stack: str,
        output: Path,
        *,
        for_site: str | None = None,
        all_secrets: bool = False,
        force: bool = False,
    ) -> ExportResult:
        """Write the control plane's current outputs for edge stacks (TripleO format)."""
        cp = self.deployment.control_plane
        if cp is None or cp.name != stack:
            raise DcnError(
                f"{stack} is not the control-plane site of {self.fleet.name}",
                hint=f"export the control plane: dcn export {cp.name if cp else '<site>'} -o FILE",
            )
        self.plan([stack])
        with self.store.lock(self.fleet.name, "dcn export"):
            return self._export(stack, output, for_site, all_secrets, force)

    def _export(
        self, stack: str, output: Path, for_site: str | None, all_secrets: bool, force: bool
    ) -> ExportResult:
        source = self.planner().recorded_control_plane()
        names = ALL_TRIPLEO_STYLE if all_secrets else self.edge_secret_names(for_site)
        values = self.store.ensure_secrets(self.fleet.name, list(names), generate)
        scope = "full" if all_secrets else "least-privilege"
        doc = build_export(
            source.outputs,
            source.version,
            {n: values[n] for n in names},
            scope=scope,
            for_site=for_site,
        )
        write_export(doc, output, force=force)
        self.store.record_export(
            self.fleet.name,
            stack,
            source.version.generation,
            source.version.digest,
            str(output),
            scope,
        )
        return ExportResult(output, source.version, scope, for_site, tuple(names))
