"""Test ids to API areas, and the default selection on Tempest 47's real test list."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from dcn.verify.areas import AREAS, DEFAULT_REGEX, GOAL_MODULES, area_of
from dcn.verify.exclusions import EXCLUSIONS, excluded

#: `tempest run --list-tests --regex DEFAULT_REGEX` with tempest 47.0.0 (no cloud needed)
LISTING = Path(__file__).with_name("tempest-47-default-list.txt")


@pytest.mark.parametrize(
    ("test_id", "area"),
    [
        (
            "tempest.api.compute.admin.test_services.ServicesAdminTestJSON.test_list_services"
            "[id-5be41ef4-53d1-41cc-8839-5c2a48a1b283]",
            "compute-admin",
        ),
        (
            "tempest.serial_tests.api.compute.admin.test_aggregates.AggregatesAdminTestJSON"
            ".test_aggregate_add_remove_host[id-c8e85064-e79b-4906-9931-c11c24294d02]",
            "compute-admin",
        ),
        ("tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token", "identity"),
        ("tempest.api.identity.admin.v3.test_roles.RolesV3TestJSON.test_x", "identity"),
        ("tempest.api.image.v2.test_images.BasicOperationsImagesTest.test_x[id-1]", "image"),
        ("tempest.api.network.test_ports.PortsTestJSON.test_x[id-1,smoke]", "network"),
        (
            "tempest.api.compute.servers.test_create_server.ServersTestJSON.test_x",
            "compute-servers",
        ),
        ("setUpClass (tempest.api.network.test_networks.NetworksTest)", "network"),
        ("tearDownClass (tempest.api.compute.servers.test_x.Y)", "compute-servers"),
        ("tempest.api.compute.flavors.test_flavors.FlavorsV2TestJSON.test_x", "other"),
        ("tempest.scenario.test_minimum_basic.TestMinimumBasicScenario.test_x", "other"),
        ("tempest.api.image.v1.test_x.Y.test_z", "other"),
    ],
)
def test_area_of(test_id: str, area: str) -> None:
    assert area_of(test_id) == area


def listing() -> list[str]:
    return [line.strip() for line in LISTING.read_text().splitlines() if line.strip()]


def test_default_selection_covers_every_goal_area_and_nothing_else() -> None:
    ids = listing()
    assert all(re.search(DEFAULT_REGEX, i) for i in ids)
    counts = Counter(area_of(i) for i in ids)
    assert set(counts) == set(GOAL_MODULES) == set(AREAS) - {"other"}
    assert counts == {
        "compute-admin": 91,
        "identity": 138,
        "image": 102,
        "network": 167,
        "compute-servers": 38,
    }
    # each goal module is in the listing
    for modules in GOAL_MODULES.values():
        for module in modules:
            assert any(re.search(rf"^tempest\.{module}", i) for i in ids), module


@pytest.mark.parametrize(
    "test_id",
    [
        "tempest.api.compute.servers.test_create_server_multi_nic.ServersTestMultiNic.test_x",
        "tempest.api.network.admin.test_routers.RoutersAdminTest.test_x",
        "tempest.api.compute.admin.test_live_migration.LiveMigrationTest.test_x",
        "tempest.scenario.test_network_basic_ops.TestNetworkBasicOps.test_x",
    ],
)
def test_default_selection_leaves_out(test_id: str) -> None:
    assert not re.search(DEFAULT_REGEX, test_id)


def test_every_exclusion_matches_a_test_of_the_listing() -> None:
    """An exclusion that matches nothing is stale (a renamed test) or a typo."""
    ids = listing()
    for item in EXCLUSIONS:
        assert any(re.search(item.pattern, i) for i in ids), item.pattern
    assert sum(excluded(i) is not None for i in ids) == len(EXCLUSIONS) == 4
