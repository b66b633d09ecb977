"""Write a plan's rendered files to a directory, to read or diff them without any host.

Files hold secret references, not values, so this output is safe to share.
"""

from __future__ import annotations

from pathlib import Path

from dcn.plan.types import StackPlan


def write_plan_files(plan: StackPlan, root: Path) -> int:
    """Write every node's files under `root/<hostname>/<path>`; return how many."""
    count = 0
    for node in plan.nodes:
        for path, spec in node.files.items():
            target = root / node.hostname / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(spec.content, encoding="utf-8")
            target.chmod(int(spec.mode, 8))
            count += 1
    return count
