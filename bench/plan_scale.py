#!/usr/bin/env python3
"""Planning at fleet scale: 1 control plane + N edge sites x M computes.

Prints wall time and peak memory (RSS) of validate + plan + render + record + export
for every site on an empty state store, then of re-planning after a change to one
site, then of `dcn plan SITE` end to end. Each measured run is its own process so its
peak memory is its own; --runs repeats the whole measurement and prints the median.
--site-nodes N plans one edge site of N nodes instead (the largest site a description
may hold is 10,000 nodes): wall time, peak RSS and the largest /etc/hosts of a node.

    .venv/bin/python bench/plan_scale.py --edges 1000 --computes 10
    .venv/bin/python bench/plan_scale.py --edges 5000 --computes 10 --runs 3
    .venv/bin/python bench/plan_scale.py --site-nodes 10000
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_phase(file: str, state: str, export: str | None) -> None:
    """One measured run in this process; prints a JSON line of figures."""
    t0 = time.perf_counter()
    from dcn.workspace import Workspace

    t_import = time.perf_counter()
    ws = Workspace(file, state)
    result = ws.validation
    assert result.ok, [f.as_dict() for f in result.errors[:3]]
    t_validate = time.perf_counter()
    results = ws.plan()
    t_plan = time.perf_counter()
    figures = {
        "import_s": t_import - t0,
        "load_validate_s": t_validate - t_import,
        "plan_render_record_s": t_plan - t_validate,
        "sites": len(results),
        "changed": sum(r.changed for r in results),
        "nodes": sum(len(r.plan.nodes) for r in results if r.changed),
        "files": sum(len(n.files) for r in results if r.changed for n in r.plan.nodes),
        "hosts_lines_max": max(
            (
                n.files["/etc/hosts"].content.count("\n")
                for r in results
                if r.changed
                for n in r.plan.nodes
            ),
            default=0,
        ),
    }
    if export:
        ws.export("central", Path(export), force=True)
        figures["export_s"] = time.perf_counter() - t_plan
    figures["total_s"] = time.perf_counter() - t_import
    figures["peak_rss_mib"] = _peak_mib()
    print(json.dumps(figures))


def measured(file: Path, state: Path, export: Path | None) -> dict[str, float]:
    args = [sys.executable, __file__, "--phase", str(file), str(state)]
    if export:
        args.append(str(export))
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def generate(root: Path, edges: int, computes: int) -> Path:
    """A fleet description under `root` (examples/generate.py); its dcn.yaml."""
    subprocess.run(
        [
            sys.executable,
            str(HERE.parent / "examples" / "generate.py"),
            "--edges",
            str(edges),
            "--computes",
            str(computes),
            "--out",
            str(root / "fleet"),
        ],
        check=True,
        capture_output=True,
    )
    return root / "fleet" / "dcn.yaml"


def change_one_site(file: Path) -> str:
    """Add one compute to a site in the middle of the fleet; return its name."""
    sites = sorted((file.parent / "sites").glob("*.yaml"))
    target = sites[len(sites) // 2]
    text = target.read_text()
    text, n = re.subn(
        r"(DistributedCompute: \{count: )(\d+)", lambda m: f"{m[1]}{int(m[2]) + 1}", text
    )
    assert n == 1
    target.write_text(text)
    return target.stem


def fleet_run(edges: int, computes: int) -> dict[str, Any]:
    """Full plan, one-site re-plan and `dcn plan SITE` on a fresh fleet."""
    with tempfile.TemporaryDirectory(prefix="dcn-bench-") as tmp:
        root = Path(tmp)
        file, state = generate(root, edges, computes), root / "state"
        full = measured(file, state, root / "export.yaml")
        # what the state store holds after the first plan: one generation per site
        full["state_mib"] = sum(f.stat().st_size for f in state.iterdir()) / 2**20
        site = change_one_site(file)
        replan = measured(file, state, None)
        t = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).parent / "dcn"),
                "-f",
                str(file),
                "--state-dir",
                str(state),
                "plan",
                site,
                "--format",
                "json",
            ],
            check=True,
            capture_output=True,
        )
        cli = time.perf_counter() - t
    return {"full": full, "replan": replan, "site": site, "cli_s": cli}


def median(runs: list[dict[str, Any]], phase: str, key: str) -> float:
    values = [r[phase][key] if phase else r[key] for r in runs]
    return statistics.median(values)


def spread(runs: list[dict[str, Any]], phase: str, key: str) -> str:
    """`min-max` of a figure over the runs (how noisy the machine was), or nothing."""
    if len(runs) < 2:
        return ""
    values = [r[phase][key] if phase else r[key] for r in runs]
    return f" [{min(values):.2f}-{max(values):.2f}]"


def fleet_report(edges: int, computes: int, runs: list[dict[str, Any]]) -> None:
    full, replan, site = runs[0]["full"], runs[0]["replan"], runs[0]["site"]
    note = f", median of {len(runs)} runs [min-max]" if len(runs) > 1 else ""
    print(
        f"fleet: 1 control plane + {edges} edge sites x {computes} computes "
        f"= {full['nodes']} nodes, {full['files']} rendered files{note}"
    )

    def fig(phase: str, key: str) -> str:
        return f"{median(runs, phase, key):.2f}"

    print(
        f"full   : load+validate {fig('full', 'load_validate_s')} s, plan+render+record "
        f"{fig('full', 'plan_render_record_s')} s, export {fig('full', 'export_s')} s, "
        f"total {fig('full', 'total_s')} s{spread(runs, 'full', 'total_s')}, peak RSS "
        f"{median(runs, 'full', 'peak_rss_mib'):.0f} MiB (imports {fig('full', 'import_s')} s), "
        f"state dir {median(runs, 'full', 'state_mib'):.1f} MiB"
    )
    print(
        f"re-plan: one site changed ({site}): {replan['changed']} site re-planned, total "
        f"{fig('replan', 'total_s')} s{spread(runs, 'replan', 'total_s')} (load+validate "
        f"{fig('replan', 'load_validate_s')} s, plan+record "
        f"{fig('replan', 'plan_render_record_s')} s), peak RSS "
        f"{median(runs, 'replan', 'peak_rss_mib'):.0f} MiB "
        f"(imports {fig('replan', 'import_s')} s)"
    )
    print(
        f"cli    : 'dcn plan {site}' end to end, with interpreter start and imports: "
        f"{fig('', 'cli_s')} s{spread(runs, '', 'cli_s')}"
    )


def site_run(nodes: int) -> dict[str, Any]:
    """Plan 1 control plane + one edge site of `nodes` nodes on an empty state store."""
    with tempfile.TemporaryDirectory(prefix="dcn-bench-") as tmp:
        root = Path(tmp)
        file = generate(root, 1, nodes)
        t = time.perf_counter()
        figures = measured(file, root / "state", None)
        figures["wall_s"] = time.perf_counter() - t
    return figures


def site_report(nodes: int, runs: list[dict[str, Any]]) -> None:
    first = runs[0]
    note = f", median of {len(runs)} runs [min-max]" if len(runs) > 1 else ""
    print(
        f"site : 1 control plane + 1 edge site of {nodes} computes = {first['nodes']} nodes, "
        f"{first['files']} rendered files{note}"
    )
    print(
        f"plan : load+validate {median(runs, '', 'load_validate_s'):.2f} s, "
        f"plan+render+record {median(runs, '', 'plan_render_record_s'):.2f} s, "
        f"wall {median(runs, '', 'wall_s'):.2f} s{spread(runs, '', 'wall_s')} (with "
        f"interpreter start), peak RSS {median(runs, '', 'peak_rss_mib'):.0f} MiB, "
        f"largest /etc/hosts {first['hosts_lines_max']} lines"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--phase":
        run_phase(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=1000)
    parser.add_argument("--computes", type=int, default=10)
    parser.add_argument(
        "--site-nodes",
        type=int,
        metavar="N",
        help="plan one edge site of N nodes (instead of a fleet)",
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="repeat; print the median (and the spread)"
    )
    args = parser.parse_args()
    if args.site_nodes:
        site_report(args.site_nodes, [site_run(args.site_nodes) for _ in range(args.runs)])
        return
    runs = [fleet_run(args.edges, args.computes) for _ in range(args.runs)]
    fleet_report(args.edges, args.computes, runs)


if __name__ == "__main__":
    main()
