"""Overrides a site's plan does not use: a file no service of that site renders.

Validation knows every file dcn can render (DCN601); which of them a site renders is
known only once its roles' services are planned. An override of ``keystone.conf`` at
an edge (no keystone there) would otherwise be dropped without a word.
"""

from __future__ import annotations

from dcn.model.description import Site
from dcn.plan.types import StackPlan
from dcn.services.render import override_name


def unused_overrides(site: Site, plan: StackPlan) -> list[str]:
    """Names under `site.config_overrides` that no node of `plan` renders, in order."""
    if not site.config_overrides:
        return []
    rendered = {override_name(path) for node in plan.nodes for path in node.files}
    return [name for name in site.config_overrides if name not in rendered]
