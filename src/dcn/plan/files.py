"""Write a plan's rendered files to a directory, to read or diff them without any host.

Files hold secret references, not values, so this output is safe to share. Every
path is confined to the directory (`dcn.paths`): a host name or file path cannot
write outside it, and no symbolic link is followed.
"""

from __future__ import annotations

from pathlib import Path

from dcn.paths import write_confined
from dcn.plan.types import StackPlan


def write_plan_files(plan: StackPlan, root: Path) -> int:
    """Write every node's files under `root/<hostname>/<path>`; return how many."""
    count = 0
    for node in plan.nodes:
        for path, spec in node.files.items():
            write_confined(root, (node.hostname, path), spec.content, int(spec.mode, 8))
            count += 1
    return count
