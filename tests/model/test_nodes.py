"""Node names: the list form names every node exactly as the generator does."""

from __future__ import annotations

import random

import pytest

from dcn.model.description import NodeSpec, RoleSpec
from dcn.model.nodes import role_hostname_list, role_hostnames


def _spec(rng: random.Random) -> RoleSpec:
    count = rng.randrange(0, 12)
    listed = rng.randrange(0, min(count, 4) + 1) if rng.random() < 0.5 else 0
    nodes = [NodeSpec(hostname=f"s-compute-{rng.randrange(6)}-x{k}") for k in range(listed)]
    if nodes and rng.random() < 0.5:  # a listed name the format would generate too
        nodes[0] = NodeSpec(hostname="s1-compute-1")
    fmt = rng.choice([None, "%stackname%-compute-%index%", "%stackname%-c", "n%index%-%stackname%"])
    return RoleSpec(count=count, nodes=nodes, hostname_format=fmt)


@pytest.mark.parametrize("seed", range(5))
def test_list_matches_generator(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        spec, role = _spec(rng), rng.choice(["Compute", "DistributedCompute", "NoSuchRole"])
        site = rng.choice(["s1", "dcn-7", "%index%"])
        expected = [name for name, _ in role_hostnames(site, role, spec)]
        assert role_hostname_list(site, role, spec) == expected, (site, role, spec)
