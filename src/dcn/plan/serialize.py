"""StackPlan <-> JSON, so recorded plans can be read back, diffed and re-used."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from dcn.plan.types import (
    ControlPlaneOutputs,
    DirSpec,
    ExportVersion,
    FileSpec,
    NodeAddressing,
    NodePlan,
    ProcessSpec,
    ProviderSegmentPlan,
    RoutePlan,
    SiteNetworkPlan,
    StackPlan,
    StepSpec,
    SubnetPlan,
    UnitPlan,
    canonical_json,
)


def plan_to_json(plan: StackPlan) -> str:
    return canonical_json(plan.as_dict())


def encode_plan(plan: StackPlan) -> tuple[str, str]:
    """The plan's JSON (as `plan_to_json`) and the digest of its content.

    The content digest is of the same JSON with ``input_digest`` empty: inputs that
    changed without changing what the site gets make no new generation. Each top-level
    part is encoded once and joined twice, instead of encoding the whole plan twice.
    """
    parts = {key: canonical_json(value) for key, value in plan.as_dict().items()}

    def joined() -> str:
        return "{" + ",".join(f"{json.dumps(k)}:{parts[k]}" for k in sorted(parts)) + "}"

    text = joined()
    parts["input_digest"] = canonical_json("")
    return text, "sha256:" + hashlib.sha256(joined().encode()).hexdigest()


def plan_from_json(text: str) -> StackPlan:
    return plan_from_dict(json.loads(text))


def _subnet(d: dict[str, Any]) -> SubnetPlan:
    return SubnetPlan(**{**d, "routes": tuple(RoutePlan(**r) for r in d["routes"])})


def _network(d: dict[str, Any]) -> SiteNetworkPlan:
    return SiteNetworkPlan(
        site=d["site"],
        subnets={k: _subnet(v) for k, v in d["subnets"].items()},
        nodes={k: NodeAddressing(**v) for k, v in d["nodes"].items()},
        vips=dict(d.get("vips") or {}),
        provider_interface=d.get("provider_interface"),
        provider_segments=tuple(ProviderSegmentPlan(**x) for x in d.get("provider_segments") or ()),
    )


def _process(d: dict[str, Any]) -> ProcessSpec:
    return ProcessSpec(**{**d, "command": tuple(d["command"]), "after": tuple(d.get("after", ()))})


def _unit(d: dict[str, Any]) -> UnitPlan:
    return UnitPlan(
        service=d["service"],
        files=tuple(d["files"]),
        dirs=tuple(DirSpec(**x) for x in d["dirs"]),
        steps=tuple(
            StepSpec(**{**x, "command": tuple(x["command"]), "rerun_on": tuple(x["rerun_on"])})
            for x in d["steps"]
        ),
        processes=tuple(_process(p) for p in d["processes"]),
        packages=tuple(d.get("packages", ())),
        packaged_units=tuple(d.get("packaged_units", ())),
        needs=None if d.get("needs") is None else tuple(d["needs"]),
    )


def _node(d: dict[str, Any]) -> NodePlan:
    return NodePlan(
        hostname=d["hostname"],
        fqdn=d["fqdn"],
        role=d["role"],
        mac=d["mac"],
        addresses=d["addresses"],
        services=tuple(d["services"]),
        files={
            p: FileSpec(
                content=f["content"],
                mode=f["mode"],
                secrets=tuple(f["secrets"]),
                owner=f.get("owner", "root"),
            )
            for p, f in d["files"].items()
        },
        units=tuple(_unit(u) for u in d.get("units", ())),
        ansible_host=d.get("ansible_host"),
    )


def plan_from_dict(d: dict[str, Any]) -> StackPlan:
    outputs = d.get("outputs")
    export = d.get("consumed_export")
    return StackPlan(
        deployment=d["deployment"],
        site=d["site"],
        kind=d["kind"],
        az=d["az"],
        input_digest=d["input_digest"],
        network=_network(d["network"]),
        nodes=tuple(_node(n) for n in d["nodes"]),
        hosts_entries=tuple(d["hosts_entries"]),
        secrets=tuple(d["secrets"]),
        outputs=ControlPlaneOutputs(**outputs) if outputs else None,
        consumed_export=ExportVersion(**export) if export else None,
    )
