"""Plan many sites against the recorded state: only what changed is planned again.

The control plane is planned first (or its outputs come from an imported export);
every edge consumes those outputs. A site whose input digest equals its last recorded
generation is not planned again, which keeps re-planning one site of a 1,000-site
fleet fast. Recording happens in one transaction per run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from dcn.errors import DcnError
from dcn.heap import settled_heap
from dcn.model.description import Deployment
from dcn.model.fleet import Fleet
from dcn.plan.serialize import encode_plan, plan_from_json
from dcn.plan.stack import (
    pinned_from,
    plan_control_plane,
    plan_edge,
    site_input_digest,
)
from dcn.plan.types import ControlPlaneOutputs, ExportVersion, StackPlan
from dcn.services.catalog import generate
from dcn.state.records import PlanHead
from dcn.state.store import Store


class SitePlanResult:
    """One site's planning outcome; an unchanged site's plan is read only when asked for."""

    def __init__(
        self,
        site: str,
        plan: StackPlan | Callable[[], StackPlan],
        previous: StackPlan | None,
        changed: bool,
        generation: int,
        plan_digest: str,
        plan_json: str | None = None,
    ) -> None:
        self.site = site
        self._plan = plan
        #: the last recorded plan (None for a new site, or when unchanged)
        self.previous = previous
        self.changed = changed
        #: the generation holding this plan (new if changed and recorded)
        self.generation = generation
        self.plan_digest = plan_digest
        #: the plan as recorded (JSON), kept from digesting it so recording does not
        #: encode it again; None when unchanged
        self.plan_json = plan_json
        #: planned again from new inputs to the same content: the input digest the
        #: recorded generation should carry from now on (None otherwise)
        self.new_input_digest: str | None = None

    @property
    def plan(self) -> StackPlan:
        if callable(self._plan):
            self._plan = self._plan()
        return self._plan


@dataclass(frozen=True, slots=True)
class ControlPlaneSource:
    """Where edges take the control plane's outputs from."""

    outputs: ControlPlaneOutputs
    version: ExportVersion


class Planner:
    """Plans sites of one deployment, reading and recording generations in `store`."""

    def __init__(
        self,
        fleet: Fleet | Deployment,
        store: Store,
        external: ControlPlaneSource | None = None,
    ) -> None:
        #: the sites, each parsed only if it is planned again
        self.fleet = fleet if isinstance(fleet, Fleet) else Fleet.of(fleet)
        self.name = self.fleet.name
        self.store = store
        self.external = external
        self._latest_read: dict[str, PlanHead] | None = None

    @property
    def _latest(self) -> dict[str, PlanHead]:
        """The newest recorded generation of each stack, read when first needed (and
        again only after this planner recorded new ones)."""
        if self._latest_read is None:
            self._latest_read = self.store.latest_heads(self.name)
        return self._latest_read

    def _recorded(self, site: str) -> StackPlan | None:
        rec = self._latest.get(site)
        return plan_from_json(rec.plan_json()) if rec else None

    def _order(self, sites: Sequence[str] | None) -> list[str]:
        known = list(dict.fromkeys(self.fleet.names))
        if not sites:
            return known
        unknown = [s for s in sites if self.fleet.ref(s) is None]
        if unknown:
            raise DcnError(
                f"no site named {', '.join(unknown)} in deployment {self.name}",
                hint=f"known sites: {', '.join(known)}",
            )
        chosen = set(sites)
        return [s for s in known if s in chosen]

    def plan(self, sites: Sequence[str] | None = None, record: bool = True) -> list[SitePlanResult]:
        """Plan `sites` (all by default; the control plane first) and record what changed."""
        with settled_heap():
            return self._plan(sites, record)

    def _plan(self, sites: Sequence[str] | None, record: bool) -> list[SitePlanResult]:
        wanted = self._order(sites)
        results: list[SitePlanResult] = []
        cp = self.fleet.control_plane
        source = self.external
        if cp is not None:
            if cp.name in wanted:
                result = self._plan_control_plane()
                results.append(result)
                assert result.plan.outputs is not None
                source = ControlPlaneSource(
                    result.plan.outputs,
                    ExportVersion(cp.name, result.generation, result.plan.outputs.digest()),
                )
            else:
                source = self.recorded_control_plane()
        edges = [s for s in wanted if cp is None or s != cp.name]
        if edges and source is None:
            raise DcnError(
                "no control-plane outputs to plan edge sites from",
                hint="add a control-plane site, or set control_plane_export to an export file",
            )
        for name in edges:
            assert source is not None
            results.append(self._plan_edge(name, source))
        if record:
            self._record(results)
        return results

    def recorded_control_plane(self) -> ControlPlaneSource:
        """The control plane's last recorded outputs, which edges consume."""
        cp = self.fleet.control_plane
        if self.external is not None:
            return self.external
        assert cp is not None
        rec = self._latest.get(cp.name)
        plan = self._recorded(cp.name)
        if rec is None or plan is None or plan.outputs is None:
            raise DcnError(
                f"the control plane {cp.name} has no recorded plan yet",
                hint=f"run 'dcn plan {cp.name}' (or 'dcn plan' for every site) first",
            )
        return ControlPlaneSource(
            plan.outputs, ExportVersion(cp.name, rec.number, plan.outputs.digest())
        )

    def _unchanged(self, site: str, digest: str) -> SitePlanResult | None:
        rec = self._latest.get(site)
        if rec is None or rec.input_digest != digest:
            return None
        return SitePlanResult(
            site, lambda: plan_from_json(rec.plan_json()), None, False, rec.number, rec.plan_digest
        )

    def _plan_control_plane(self) -> SitePlanResult:
        cp = self.fleet.control_plane
        assert cp is not None
        digest = site_input_digest(
            self.fleet.frame, cp.digest, None, self.fleet.control_plane_context()
        )
        same = self._unchanged(cp.name, digest)
        if same is not None:
            return same
        previous = self._recorded(cp.name)
        # the control plane routes to every edge leaf: it is planned with every site
        dep = self.fleet.deployment
        plan = plan_control_plane(dep, self.fleet.site(cp.name), pinned_from(previous))
        return self._result(cp.name, plan, previous)

    def _plan_edge(self, name: str, source: ControlPlaneSource) -> SitePlanResult:
        ref = self.fleet.ref(name)
        assert ref is not None
        digest = site_input_digest(self.fleet.frame, ref.digest, source.version.digest)
        same = self._unchanged(name, digest)
        if same is not None:
            return same
        previous = self._recorded(name)
        # an edge never looks at other edges: the frame (settings and control plane) will do
        plan = plan_edge(
            self.fleet.frame,
            self.fleet.site(name),
            source.outputs,
            source.version,
            pinned_from(previous),
        )
        return self._result(name, plan, previous)

    def _result(self, name: str, plan: StackPlan, previous: StackPlan | None) -> SitePlanResult:
        rec = self._latest.get(name)
        number = (rec.number if rec else 0) + 1
        # the content decides: inputs that changed without changing what the site gets
        # (a new edge leaf inside the control plane's supernet routes) make no generation
        text, digest = encode_plan(plan)
        if rec is not None and rec.plan_digest == digest:
            same = SitePlanResult(name, plan, previous, False, rec.number, digest)
            if rec.input_digest != plan.input_digest:
                same.new_input_digest = plan.input_digest
            return same
        return SitePlanResult(name, plan, previous, True, number, digest, text)

    def _record(self, results: Iterable[SitePlanResult]) -> None:
        results = list(results)
        refreshed = {
            r.site: (r.generation, r.new_input_digest) for r in results if r.new_input_digest
        }
        if refreshed:
            self.store.refresh_input_digests(self.name, refreshed)
            self._latest_read = None
        changed = [r for r in results if r.changed]
        if not changed:
            return
        self.store.ensure_secrets(
            self.name,
            sorted({s for r in changed for s in r.plan.secrets}),
            generate,
        )
        self.store.record_generations(
            self.name,
            [
                dict(
                    stack=r.site,
                    kind=r.plan.kind,
                    az=r.plan.az,
                    input_digest=r.plan.input_digest,
                    plan_digest=r.plan_digest,
                    plan_json=r.plan_json or encode_plan(r.plan)[0],
                    node_count=len(r.plan.nodes),
                    outputs_digest=r.plan.outputs.digest() if r.plan.outputs else None,
                    consumed_export=(
                        (
                            r.plan.consumed_export.stack,
                            r.plan.consumed_export.generation,
                            r.plan.consumed_export.digest,
                        )
                        if r.plan.consumed_export
                        else None
                    ),
                )
                for r in changed
            ],
        )
        self._latest_read = None
