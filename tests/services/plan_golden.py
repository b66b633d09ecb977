"""A snapshot of everything the service catalog decides, for `test_plan_golden`.

Plans every example description (``examples/*.yaml`` that validate) and two variants
that reach branches the example does not (a generated fleet of three controllers and
scale-out computes; the example with tunnelling sites, the metadata route and
config overrides), and keeps, per site and node, a sha256 of each rendered file with
its mode and owner, each unit's dirs, steps, processes and packages, and per stack
its secrets and outputs; plus the tables derived from the catalog (secret kinds, the
secrets each site receives, health targets, the overridable files).

Regenerate (only when a change of rendered output is intended) with:

    .venv/bin/python -m tests.services.plan_golden
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from dcn.health import targets
from dcn.model.roles import ROLES
from dcn.plan.outputs import serves_others
from dcn.plan.types import FileSpec, NodePlan, StackPlan, plain
from dcn.services.catalog import ALL_TRIPLEO_STYLE, NOT_ROTATED, SECRETS, service
from dcn.services.render import OVERRIDABLE
from dcn.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "plan-golden.json"
EXAMPLE = ROOT / "examples" / "dcn-basic.yaml"

#: text replacements that turn the example into the "variant" description
VARIANT_EDITS = (
    (
        "    ha_size: 1              # a lab; production wants 3 (see rule DCN301)\n",
        "    ha_size: 1\n"
        "    sdn: {mechanism: ovn, tunnelling: true}\n"
        "    config_overrides:\n"
        "      nova.conf: {DEFAULT: {cpu_allocation_ratio: 4.0}}\n"
        "      keystone.conf: {token: {expiration: 7200}}\n"
        "      my.cnf: {mysqld: {max_connections: 800}}\n",
    ),
    # dcn0 (the first): no provider NIC, tunnelling; dcn1: both
    ("    sdn: {provider_interface: provider}\n", "    sdn: {tunnelling: true}\n"),
    (
        "    sdn: {provider_interface: provider}\n",
        "    sdn: {mechanism: ovn, tunnelling: true, provider_interface: provider}\n",
    ),
    ("DistributedComputeScaleOut: {count: 0}", "DistributedComputeScaleOut: {count: 1}"),
)


def _file(spec: FileSpec) -> dict[str, str]:
    return {
        "sha256": hashlib.sha256(spec.content.encode()).hexdigest(),
        "mode": spec.mode,
        "owner": spec.owner,
    }


def _node(node: NodePlan) -> dict[str, Any]:
    return {
        "role": node.role,
        "services": list(node.services),
        "files": {path: _file(spec) for path, spec in sorted(node.files.items())},
        "units": [plain(unit) for unit in node.units],
    }


def _stack(ws: Workspace, plan: StackPlan) -> dict[str, Any]:
    export = plan.consumed_export
    return {
        "kind": plan.kind,
        "az": plan.az,
        "secrets": list(plan.secrets),
        "receives": list(ws.site_secret_names(plan.site)),
        "hosts_entries": list(plan.hosts_entries),
        "outputs": plain(plan.outputs),
        "consumed_outputs": export.digest if export else None,
        "nodes": {node.hostname: _node(node) for node in plan.nodes},
    }


def _description(ws: Workspace) -> dict[str, Any]:
    plans = [r.plan for r in ws.plan(record=False)]
    central = next(p for p in plans if p.outputs is not None)
    assert central.outputs is not None
    return {
        "sites": {p.site: _stack(ws, p) for p in sorted(plans, key=lambda p: p.site)},
        "edge_secrets": list(ws.edge_secret_names(None)),
        "health_targets": targets(central.outputs),
    }


def _catalog() -> dict[str, Any]:
    """Tables derived from the service catalog that no plan shows whole."""
    names = sorted({s for role in ROLES.values() for s in role.services})
    return {
        "secrets": {name: str(secret.kind) for name, secret in SECRETS.items()},
        "all_tripleo_style": list(ALL_TRIPLEO_STYLE),
        "not_rotated": sorted(NOT_ROTATED),
        "overridable": dict(sorted(OVERRIDABLE.items())),
        "roles": {
            name: {"services": list(role.services), "serves_others": serves_others(name)}
            for name, role in ROLES.items()
        },
        "services": {
            name: {
                "secrets": list(service(name).secrets),
                "packages": list(service(name).packages),
                "packaged_units": list(service(name).packaged_units),
            }
            for name in names
        },
    }


def _generated_fleet(folder: Path) -> Path:
    """examples/generate.py's fleet, small: 3 controllers, 2 edges of 4 computes."""
    out = folder / "fleet"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "generate.py"),
            *("--edges", "2", "--computes", "4", "--controllers", "3", "--out", str(out)),
        ],
        check=True,
        capture_output=True,
    )
    return out / "dcn.yaml"


def _variant(folder: Path) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in VARIANT_EDITS:
        if old not in text:
            raise AssertionError(f"examples/dcn-basic.yaml no longer holds {old!r}")
        text = text.replace(old, new, 1)  # the first: edits name sites in order
    path = folder / "variant" / "dcn.yaml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    return path


def snapshot() -> dict[str, Any]:
    """The whole snapshot, as JSON-ready data (deterministic for a given code)."""
    with tempfile.TemporaryDirectory(prefix="dcn-golden-") as tmp:
        folder = Path(tmp)
        descriptions = {f"examples/{p.name}": p for p in sorted((ROOT / "examples").glob("*.yaml"))}
        descriptions["generated: examples/generate.py --edges 2 --computes 4"] = _generated_fleet(
            folder
        )
        descriptions["variant: examples/dcn-basic.yaml, tunnelling and overrides"] = _variant(
            folder
        )
        workspaces = {
            name: Workspace(path, state_dir=folder / f"state-{index}")
            for index, (name, path) in enumerate(descriptions.items())
        }
        return {
            "format": 1,
            "descriptions": {
                name: _description(ws)
                for name, ws in workspaces.items()
                # an example that does not validate (a counter-example) has no plan
                if ws.validation.ok or not name.startswith("examples/")
            },
            "catalog": _catalog(),
        }


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def main() -> None:
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(dumps(snapshot()), encoding="utf-8")
    print(f"wrote {GOLDEN.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
