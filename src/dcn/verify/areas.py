"""API areas: which Tempest tests `dcn verify` runs by default, and how results group.

An area is named by the Tempest modules it holds, so the default selection and the
per-area counts cannot drift apart: `DEFAULT_REGEX` is built from `GOAL_MODULES`.
Tempest 47 keeps the aggregate tests under ``tempest.serial_tests`` (they change
host aggregates, so they never run beside each other).
"""

from __future__ import annotations

import re

COMPUTE_ADMIN = "compute-admin"
IDENTITY = "identity"
IMAGE = "image"
NETWORK = "network"
COMPUTE_SERVERS = "compute-servers"
OTHER = "other"
#: the order areas are shown in
AREAS = (COMPUTE_ADMIN, IDENTITY, IMAGE, NETWORK, COMPUTE_SERVERS, OTHER)

#: area -> a regex of the test ids it holds (the first match wins)
_AREA_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (COMPUTE_ADMIN, re.compile(r"^tempest\.(serial_tests\.)?api\.compute\.admin\.")),
    (IDENTITY, re.compile(r"^tempest\.(serial_tests\.)?api\.identity\.")),
    (IMAGE, re.compile(r"^tempest\.(serial_tests\.)?api\.image\.v2\.")),
    (NETWORK, re.compile(r"^tempest\.(serial_tests\.)?api\.network\.")),
    (COMPUTE_SERVERS, re.compile(r"^tempest\.(serial_tests\.)?api\.compute\.servers\.")),
)

#: the goal's modules per area (issue 10: AZs, aggregates, services, hypervisors and
#: flavors; identity v3; image v2; networks, ports, subnets, security groups and
#: routers; servers created, listed with filters, their addresses), negatives too
GOAL_MODULES: dict[str, tuple[str, ...]] = {
    COMPUTE_ADMIN: (
        r"api\.compute\.admin\.test_availability_zone",
        # Tempest 47 runs the aggregate tests serially; their negatives are not
        r"(serial_tests\.)?api\.compute\.admin\.test_aggregates",
        r"api\.compute\.admin\.test_services",
        r"api\.compute\.admin\.test_hypervisor",
        r"api\.compute\.admin\.test_flavors(_access|_extra_specs|_microversions)?",
    ),
    IDENTITY: (r"api\.identity\.v3", r"api\.identity\.admin\.v3"),
    IMAGE: (r"api\.image\.v2",),
    # neutron's subnet tests live in test_networks
    NETWORK: (
        r"api\.network\.test_networks",
        r"api\.network\.test_ports",
        r"api\.network\.test_security_groups",
        r"api\.network\.test_routers",
    ),
    COMPUTE_SERVERS: (
        r"api\.compute\.servers\.test_create_server",
        r"api\.compute\.servers\.test_list_server_filters",
        r"api\.compute\.servers\.test_server_addresses",
    ),
}

#: every goal module and its ``_negative`` sibling, nothing that merely shares a prefix
DEFAULT_REGEX = (
    r"^tempest\.("
    + "|".join(module for modules in GOAL_MODULES.values() for module in modules)
    + r")(_negative)?\."
)


def _class_path(test_id: str) -> str:
    """The dotted path of a test id: without ``[attrs]``, and for a class-level
    failure (``setUpClass (tempest.api.x.Class)``) the class inside the brackets."""
    test_id = test_id.strip()
    if test_id.endswith(")") and " (" in test_id:
        test_id = test_id[test_id.rindex(" (") + 2 : -1]
    return test_id.split("[", 1)[0]


def area_of(test_id: str) -> str:
    """The API area a Tempest test id belongs to (``other`` when none claims it)."""
    path = _class_path(test_id)
    for area, pattern in _AREA_PATTERNS:
        if pattern.match(path):
            return area
    return OTHER
